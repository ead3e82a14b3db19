import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { GraphEmulator, type GraphEmulatorOptions } from '../../local/graphEmulator/graphEmulator';
import { IdentityEndpoint } from '../../local/graphEmulator/identityEndpoint';
import { ensureLocalCertificate } from '../../local/graphEmulator/localCertificate';

export interface EmulatedTenant {
  emulator: GraphEmulator;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The settings that point the app at this emulator with a client secret. */
  settings: Record<string, string>;
}

/** A Graph emulator on a free port with one app registration, its secret, and User.Invite.All (or `roles`). */
export async function startEmulatedTenant(
  options: Partial<Omit<GraphEmulatorOptions, 'certificate'>> & { roles?: string[] } = {},
): Promise<EmulatedTenant> {
  const certificate = await ensureLocalCertificate(inject('localCertificateFolder'));
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const clientSecret = `secret~${randomUUID()}`;
  const { roles, ...behaviour } = options;
  const emulator = await GraphEmulator.start({
    latencyMs: 0,
    ...behaviour,
    certificate,
    apps: options.apps ?? [{ tenantId, clientId, clientSecret, ...(roles ? { roles } : {}) }],
  });
  return {
    emulator,
    tenantId,
    clientId,
    clientSecret,
    settings: {
      GRAPH_TENANT_ID: tenantId,
      GRAPH_CLIENT_ID: clientId,
      GRAPH_CLIENT_SECRET: clientSecret,
      GRAPH_AUTHORITY_HOST: emulator.authorityHost,
      GRAPH_ENDPOINT: emulator.graphEndpoint,
    },
  };
}

/** Waits for a condition by polling it (storage offers no change feed to await). */
export async function waitFor<T>(check: () => Promise<T | undefined | false>, { timeoutMs = 20_000, what = 'condition' } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The identity endpoint Azure Functions gives an app, announced to this process as the platform
 * does (IDENTITY_ENDPOINT, IDENTITY_HEADER), for ManagedIdentityCredential. MSAL reads them once
 * per process: one endpoint per test file. `stop` restores the environment.
 */
export async function announceIdentityEndpoint(
  emulator: GraphEmulator,
): Promise<{ endpoint: IdentityEndpoint; stop: () => Promise<void> }> {
  const names = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'] as const;
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  const endpoint = await IdentityEndpoint.start(emulator);
  Object.assign(process.env, endpoint.environment);
  return {
    endpoint,
    stop: async () => {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      await endpoint.stop();
    },
  };
}
