import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite';
import { GraphEmulator } from '../../local/graphEmulator/graphEmulator';
import { ensureLocalCertificate } from '../../local/graphEmulator/localCertificate';
import { decideLocalTrust, TRUST_BUNDLE_FILE } from '../../local/trustLocalCertificate';
import { createAppDependencies, DEFAULT_RESOURCE_NAMES } from '../../shared/appDependencies';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { loadSettings } from '../../shared/settings';
import { invitationFor } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startLocalHostProcess, stopLocalHostProcess, type LocalHostProcess } from '../support/localHostProcess';

// A user's NODE_EXTRA_CA_CERTS (a TLS-inspecting corporate proxy's CA) is always kept.

describe('trusting the local certificate authority', () => {
  const folder = () => mkdtempSync(path.join(tmpdir(), 'trust-'));

  it("adds the local CA to the user's own bundle instead of replacing it, and restarts with the combination", async () => {
    const certificates = folder();
    const users = path.join(folder(), 'corporate-ca.pem');
    writeFileSync(users, '-----BEGIN CERTIFICATE-----\nCORPORATE\n-----END CERTIFICATE-----\n');
    const decision = await decideLocalTrust({ NODE_EXTRA_CA_CERTS: users }, certificates);
    expect(decision).toEqual({ kind: 'restart', bundlePath: path.join(certificates, TRUST_BUNDLE_FILE) });
    const bundle = readFileSync(path.join(certificates, TRUST_BUNDLE_FILE), 'utf8');
    expect(bundle).toContain('CORPORATE');
    expect(bundle).toContain(readFileSync(path.join(certificates, 'local-ca.pem'), 'utf8'));
  });

  it('is satisfied, without a restart, once it runs with the bundle', async () => {
    const certificates = folder();
    const first = await decideLocalTrust({}, certificates);
    expect(first.kind).toBe('restart');
    const second = await decideLocalTrust({ NODE_EXTRA_CA_CERTS: (first as { bundlePath: string }).bundlePath }, certificates);
    expect(second.kind).toBe('trusted');
  });
});

describe('npm start with real Graph behind a TLS-inspecting proxy', () => {
  let azurite: RunningAzurite;
  let emulator: GraphEmulator;
  let host: LocalHostProcess | undefined;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await stopLocalHostProcess(host, 'SIGKILL');
    await emulator?.stop();
    await azurite?.stop();
  });

  it("keeps the user's NODE_EXTRA_CA_CERTS, so Graph, signed by that CA alone, is reached and the person invited", async () => {
    // "Graph" here presents a certificate from a CA that only the user's variable trusts, as a proxy's would.
    const corporate = await ensureLocalCertificate(mkdtempSync(path.join(tmpdir(), 'corporate-ca-')));
    const tenantId = randomUUID();
    const clientId = randomUUID();
    const clientSecret = randomUUID();
    emulator = await GraphEmulator.start({ certificate: corporate, apps: [{ tenantId, clientId, clientSecret }], latencyMs: 0 });
    host = await startLocalHostProcess({
      NODE_EXTRA_CA_CERTS: corporate.caCertificatePath,
      AzureWebJobsStorage: azurite.connectionString,
      GRAPH_TENANT_ID: tenantId,
      GRAPH_CLIENT_ID: clientId,
      GRAPH_CLIENT_SECRET: clientSecret,
      GRAPH_AUTHORITY_HOST: emulator.authorityHost,
      GRAPH_ENDPOINT: emulator.graphEndpoint,
    });
    expect(host.output()).not.toContain('NO REAL INVITATIONS');
    const response = await fetch(`${host.url}/api/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(invitationFor('proxied@fabrikam.com')),
    });
    expect(response.status).toBe(202);
    const deps = await createAppDependencies(loadSettings({ AzureWebJobsStorage: azurite.connectionString }), DEFAULT_RESOURCE_NAMES);
    const record = await waitFor(
      async () => {
        const stored = await deps.store.getById(recordIdForEmail('proxied@fabrikam.com'));
        return stored && stored.record.status !== 'Queued' && stored.record.status !== 'Processing' ? stored.record : undefined;
      },
      { timeoutMs: 30_000, what: 'the invitation to be final' },
    );
    expect(record.status).toBe('Invited');
    expect(emulator.callsFor('proxied@fabrikam.com')).toHaveLength(1);
    deps.credentialCircuit.dispose();
  }, 60_000);
});
