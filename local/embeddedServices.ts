import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { developmentConnectionString, isPortOpen, startAzurite, type AzuritePorts } from './azurite';
import { GraphEmulator, USER_INVITE_ALL, USER_READ_ALL } from './graphEmulator/graphEmulator';
import type { LocalCertificate } from './graphEmulator/localCertificate';

/**
 * What `npm start` embeds when the configuration leaves it out: Azurite for storage and the Graph
 * emulator for Graph. Given a full connection string, or Graph settings, it embeds nothing.
 */

export const DEVELOPMENT_STORAGE_PORTS: AzuritePorts = { blob: 10000, queue: 10001, table: 10002 };
export const DEFAULT_EMULATOR_PORT = 7443;

export interface EmbeddedService {
  description: string;
  stop(): Promise<void>;
}

/** Azurite when storage is `UseDevelopmentStorage=true` (or unset) and nothing answers on its ports. */
export async function embedStorageIfMissing(env: NodeJS.ProcessEnv, appRoot: string): Promise<EmbeddedService | undefined> {
  const configured = env.AzureWebJobsStorage?.trim();
  const identityBased = env.AzureWebJobsStorage__accountName?.trim() || env.AzureWebJobsStorage__queueServiceUri?.trim();
  if ((configured && configured !== 'UseDevelopmentStorage=true') || (!configured && identityBased)) return undefined;
  env.AzureWebJobsStorage = 'UseDevelopmentStorage=true';
  const ports = Object.values(DEVELOPMENT_STORAGE_PORTS);
  const open = await Promise.all(ports.map((port) => isPortOpen(port)));
  if (open.every(Boolean)) return undefined; // an Azurite (or the storage emulator) already runs
  if (open.some(Boolean)) {
    throw new Error(
      `Some of the development storage ports ${ports.join(', ')} are taken by something else: stop it, or set AzureWebJobsStorage to a connection string.`,
    );
  }
  const location = path.join(appRoot, '.azurite');
  const azurite = await startAzurite({ ports: DEVELOPMENT_STORAGE_PORTS, location });
  return {
    description: `Azurite (embedded) on ${developmentConnectionString(DEVELOPMENT_STORAGE_PORTS).match(/QueueEndpoint=([^;]+)/)?.[1]}, data in ${location}`,
    stop: () => azurite.stop(),
  };
}

const GRAPH_CREDENTIAL_SETTINGS = [
  'GRAPH_CLIENT_SECRET',
  'GRAPH_CLIENT_CERTIFICATE_PATH',
  'GRAPH_CLIENT_CERTIFICATE',
  'AZURE_FEDERATED_TOKEN_FILE',
  'IDENTITY_ENDPOINT',
  'MSI_ENDPOINT',
];

/** Whether Graph credentials are configured: then Graph is real, and nothing is embedded for it. */
export function graphIsConfigured(env: NodeJS.ProcessEnv): boolean {
  return GRAPH_CREDENTIAL_SETTINGS.some((name) => env[name]?.trim());
}

/** The Graph emulator, for when no Graph credentials are configured: nothing real is ever sent. */
export async function embedGraph(
  env: NodeJS.ProcessEnv,
  certificate: LocalCertificate,
): Promise<EmbeddedService & { emulator: GraphEmulator }> {
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = randomUUID();
  const port = env.GRAPH_EMULATOR_PORT ? Number(env.GRAPH_EMULATOR_PORT) : DEFAULT_EMULATOR_PORT;
  // The local app may invite and read users, as the lifecycle needs (docs/deploy.md, step 2).
  const emulator = await GraphEmulator.start({
    certificate,
    apps: [{ tenantId, clientId, clientSecret, roles: [USER_INVITE_ALL, USER_READ_ALL] }],
    port,
  });
  Object.assign(env, {
    GRAPH_TENANT_ID: tenantId,
    GRAPH_CLIENT_ID: clientId,
    GRAPH_CLIENT_SECRET: clientSecret,
    GRAPH_AUTHORITY_HOST: emulator.authorityHost,
    GRAPH_ENDPOINT: emulator.graphEndpoint,
  });
  return {
    emulator,
    description:
      `Graph emulator (embedded) on ${emulator.url}: no Graph credentials are configured, so NO REAL INVITATIONS ARE SENT. ` +
      `Watch them: curl --cacert ${certificate.caCertificatePath} ${emulator.url}/_emulator/summary`,
    stop: () => emulator.stop(),
  };
}
