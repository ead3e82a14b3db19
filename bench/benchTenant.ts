import { randomUUID } from 'node:crypto';
import { GraphEmulator, type BehaviourChange } from '../local/graphEmulator/graphEmulator';
import type { LocalCertificate } from '../local/graphEmulator/localCertificate';

/** An emulated tenant for a benchmark: the emulator with one app, and the settings that point the app at it. */
export async function startBenchTenant(certificate: LocalCertificate, behaviour: BehaviourChange, roles?: string[]) {
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = randomUUID();
  const emulator = await GraphEmulator.start({
    certificate,
    apps: [{ tenantId, clientId, clientSecret, ...(roles ? { roles } : {}) }],
    ...behaviour,
  });
  const graphSettings = {
    GRAPH_TENANT_ID: tenantId,
    GRAPH_CLIENT_ID: clientId,
    GRAPH_CLIENT_SECRET: clientSecret,
    GRAPH_AUTHORITY_HOST: emulator.authorityHost,
    GRAPH_ENDPOINT: emulator.graphEndpoint,
  };
  return { emulator, graphSettings };
}
