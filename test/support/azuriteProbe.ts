import { startAzurite } from '../../local/azurite';

/** Started by test/localHost/azuriteLifetime.test.ts, which SIGKILLs it: Azurite must not survive it. */
void startAzurite().then((azurite) => {
  process.stdout.write(`${JSON.stringify(azurite.ports)}\n`);
  setInterval(() => undefined, 60_000); // stay alive until killed
});
