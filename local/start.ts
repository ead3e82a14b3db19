import { installFunctionsCore } from './functionsCore';
import { appRoot, localCertificateFolder } from './appRoot';
import type { LocalCertificate } from './graphEmulator/localCertificate';
import { embedGraph, embedStorageIfMissing, graphIsConfigured, type EmbeddedService } from './embeddedServices';
import { isLoopbackHost, LocalFunctionHost, PortInUseError } from './functionHost';
import { readQueueTriggerSettings } from './hostJson';
import { loadLocalSettings } from './localSettings';
import { decideLocalTrust, restartTrusting } from './trustLocalCertificate';

/**
 * `npm start`: the whole pipeline on this machine, without Azure Functions Core Tools.
 * local.settings.json is applied as `func` applies it (the real environment wins); Azurite and the
 * Graph emulator are embedded when the settings leave them out; then the local host serves the
 * app's functions on http://localhost:7071 (PORT overrides) until SIGINT/SIGTERM.
 */

const log = (message: string) => console.log(`[${new Date().toISOString()}] ${message}`);

async function main(): Promise<void> {
  const root = appRoot();
  const local = loadLocalSettings(root);
  // Only the embedded emulator needs the local certificate authority; real Graph keeps the user's trust as it is.
  let certificate: LocalCertificate | undefined;
  if (!graphIsConfigured(process.env)) {
    const trust = await decideLocalTrust(process.env, localCertificateFolder());
    if (trust.kind === 'restart') return restartTrusting(trust.bundlePath);
    certificate = trust.certificate;
  }
  if (local.file) log(`Settings from ${local.file} (the environment wins over it).`);

  const embedded: EmbeddedService[] = [];
  const stopEmbedded = async () => {
    for (const service of embedded.reverse()) await service.stop().catch(() => undefined);
  };
  try {
    const storage = await embedStorageIfMissing(process.env, root);
    if (storage) embedded.push(storage);
    const graph = certificate ? await embedGraph(process.env, certificate) : undefined;
    if (graph) embedded.push(graph);
    for (const service of embedded) log(service.description);

    // Registered exactly as under the Functions host (see functionsCore.ts); loading the app checks the settings.
    installFunctionsCore();
    // Required only now: the functions must register after functions-core is in place, with the settings applied.
    const { appFunctions } = require('../functions/index') as typeof import('../functions/index');
    const { appDependencies } = require('../shared/appDependencies') as typeof import('../shared/appDependencies');
    const { storageAccountFromSettings } = require('../shared/storage') as typeof import('../shared/storage');
    const deps = await appDependencies();
    if (!graph) log(`Graph: ${deps.settings.GRAPH_ENDPOINT} as the configured app (real invitations are sent).`);

    const host = new LocalFunctionHost({
      functions: appFunctions,
      deps,
      storage: storageAccountFromSettings(deps.settings),
      queueTrigger: {
        ...readQueueTriggerSettings(root),
        ...(process.env.LOCAL_QUEUE_MESSAGE_LEASE_SECONDS
          ? { messageLeaseSeconds: Number(process.env.LOCAL_QUEUE_MESSAGE_LEASE_SECONDS) }
          : {}),
      },
      port: process.env.PORT ? Number(process.env.PORT) : 7071,
      ...(process.env.HOST ? { host: process.env.HOST } : {}),
      logHandler: (level, ...args) => {
        if (level === 'debug' || level === 'trace') return;
        log(`${level === 'information' ? '' : `${level}: `}${args.map(String).join(' ')}`);
      },
    });
    if (process.env.HOST && !isLoopbackHost(process.env.HOST)) {
      log(
        `warning: HOST=${process.env.HOST}: the local host is reachable from the network, checks no function keys, and ${graph ? 'drives the Graph emulator' : 'invites for real with the configured Graph credentials'}. Use it only on a network you trust.`,
      );
    }
    await host.start();
    log(`Functions:`);
    for (const definition of appFunctions) {
      const where =
        definition.kind === 'http'
          ? `[${definition.methods.join(',')}] ${host.url}/api/${definition.route}`
          : definition.kind === 'queue'
            ? `queue ${definition.queueName}`
            : `timer ${definition.schedule}`;
      log(`  ${definition.name}: ${where}`);
    }
    log('Ready. Ctrl+C stops (in-flight work finishes first).');

    let stopping = false;
    const shutDown = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: no new requests or messages; finishing what is in flight...`);
      await host.stop();
      await stopEmbedded();
      log('Stopped.');
      process.exit(0);
    };
    process.on('SIGINT', () => void shutDown('SIGINT'));
    process.on('SIGTERM', () => void shutDown('SIGTERM'));
  } catch (error) {
    await stopEmbedded();
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(
    error instanceof PortInUseError || (error as Error).name === 'SettingsError' ? `Cannot start: ${(error as Error).message}` : error,
  );
  process.exit(1);
});
