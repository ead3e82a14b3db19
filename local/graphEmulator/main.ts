import { randomUUID } from 'node:crypto';
import { localCertificateFolder } from '../appRoot';
import { DEFAULT_EMULATOR_PORT } from '../embeddedServices';
import { GraphEmulator, USER_INVITE_ALL, USER_READ_ALL } from './graphEmulator';
import { ensureLocalCertificate } from './localCertificate';

/**
 * `npm run emulator`: the Graph emulator on its own (https://localhost:7443 by default), for a
 * local host or a script started separately. It prints the settings that point an app at it.
 * GRAPH_EMULATOR_PORT, GRAPH_TENANT_ID, GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET choose its port and app.
 */
async function main() {
  const certificate = await ensureLocalCertificate(localCertificateFolder());
  const tenantId = process.env.GRAPH_TENANT_ID || randomUUID();
  const clientId = process.env.GRAPH_CLIENT_ID || randomUUID();
  const clientSecret = process.env.GRAPH_CLIENT_SECRET || randomUUID();
  const port = Number(process.env.GRAPH_EMULATOR_PORT || DEFAULT_EMULATOR_PORT);
  const emulator = await GraphEmulator.start({
    certificate,
    apps: [{ tenantId, clientId, clientSecret, roles: [USER_INVITE_ALL, USER_READ_ALL] }],
    port,
  });
  console.log(`Graph emulator on ${emulator.url} (no real invitations are sent). Point the app at it with:`);
  console.log(`  NODE_EXTRA_CA_CERTS=${certificate.caCertificatePath}`);
  for (const [name, value] of Object.entries({
    GRAPH_TENANT_ID: tenantId,
    GRAPH_CLIENT_ID: clientId,
    GRAPH_CLIENT_SECRET: clientSecret,
    GRAPH_AUTHORITY_HOST: emulator.authorityHost,
    GRAPH_ENDPOINT: emulator.graphEndpoint,
  })) {
    console.log(`  ${name}=${value}`);
  }
  console.log(`Inspect: curl --cacert ${certificate.caCertificatePath} ${emulator.url}/_emulator/summary`);
  const stop = () => void emulator.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
