import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { USER_INVITE_ALL, type EmulatedApp } from '../../local/graphEmulator/graphEmulator';
import { graphCaller, graphEndpoints } from '../../shared/graph/graphCaller';
import { loadSettings } from '../../shared/settings';
import { createTestDependencies, invitationFor, invokeHttp, submit } from '../support/harness';
import type { AppDependencies } from '../../shared/appDependencies';
import { getHealth } from '../../functions/getHealth';
import { announceIdentityEndpoint, startEmulatedTenant, waitFor } from '../support/graphEmulator';
import { CapturedLogs, startWorker, waitForStatus } from '../support/pipeline';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function runWorker(tenant: Awaited<ReturnType<typeof startEmulatedTenant>>, env: Record<string, string>) {
  const deps = await createTestDependencies(env);
  const logs = new CapturedLogs();
  const running = startWorker(deps, logs);
  cleanup.push(
    () => tenant.emulator.stop(),
    () => running.stop(),
    async () => deps.credentialCircuit.dispose(),
  );
  const invite = async (email: string) => (await submit(deps, invitationFor(email))).json.items[0].id as string;
  return { deps, logs, invite };
}

/** Invites one person as an app registration that signs in with `credential` (its settings and what the emulator knows of it). */
async function inviteAsApp(email: string, app: Partial<EmulatedApp>, credential: Record<string, string>) {
  const tenantId = randomUUID();
  const clientId = randomUUID();
  const tenant = await startEmulatedTenant({ apps: [{ tenantId, clientId, ...app }] });
  const { deps, invite } = await runWorker(tenant, {
    GRAPH_TENANT_ID: tenantId,
    GRAPH_CLIENT_ID: clientId,
    GRAPH_AUTHORITY_HOST: tenant.emulator.authorityHost,
    GRAPH_ENDPOINT: tenant.emulator.graphEndpoint,
    ...credential,
  });
  return waitForStatus(deps, await invite(email));
}

/** The record once the worker has written an error on it (while it waits, or when it is final). */
function waitForError(deps: AppDependencies, id: string) {
  return waitFor(
    async () => {
      const record = (await deps.store.getById(id))?.record;
      return record?.error ? record : undefined;
    },
    { what: `invitation ${id} to carry an error` },
  );
}

const health = (deps: AppDependencies) => invokeHttp(getHealth, deps, { path: '/api/health' });

describe('app-only credentials through @azure/identity', () => {
  it('gets one token with a client secret and reuses it for every call, even for calls that start together', async () => {
    const tenant = await startEmulatedTenant();
    // Unpaced, so that the calls really start together.
    const { deps, invite } = await runWorker(tenant, { ...tenant.settings, GRAPH_MAX_WRITES_PER_SECOND: '1000' });
    // One batch: the worker takes its people in one poll and calls for them concurrently, on a cold process.
    const batch = await submit(deps, {
      invitations: ['s1', 's2', 's3', 's4', 's5', 's6'].map((name) => invitationFor(`${name}@fabrikam.com`)),
    });
    const ids = [...batch.json.items.map((item: { id: string }) => item.id), await invite('s7@fabrikam.com')];
    for (const id of ids) await waitForStatus(deps, id, 'Invited');
    expect(tenant.emulator.tokenRequests).toBe(1);
  });

  it('signs in with a client certificate (PEM with key and certificate)', async () => {
    const certificate = await generate([{ name: 'commonName', value: 'invite-pipeline-test' }], { keySize: 2048, algorithm: 'sha256' });
    const folder = mkdtempSync(path.join(tmpdir(), 'invite-cert-'));
    const certificatePath = path.join(folder, 'app.pem');
    writeFileSync(certificatePath, `${certificate.private}\n${certificate.cert}`);
    const record = await inviteAsApp(
      'cert@fabrikam.com',
      { clientCertificatePem: certificate.cert },
      { GRAPH_CLIENT_CERTIFICATE_PATH: certificatePath },
    );
    expect(record.status).toBe('Invited');
  });

  it('signs in with the certificate given as text, as a Key Vault reference gives it (GRAPH_CLIENT_CERTIFICATE)', async () => {
    const certificate = await generate([{ name: 'commonName', value: 'invite-pipeline-kv' }], { keySize: 2048, algorithm: 'sha256' });
    const record = await inviteAsApp(
      'kvcert@fabrikam.com',
      { clientCertificatePem: certificate.cert },
      { GRAPH_CLIENT_CERTIFICATE: `${certificate.private}\n${certificate.cert}` },
    );
    expect(record.status).toBe('Invited');
  });

  it('signs in with workload identity federation (AZURE_FEDERATED_TOKEN_FILE)', async () => {
    const federatedToken = `federated.${randomUUID()}.token`;
    const folder = mkdtempSync(path.join(tmpdir(), 'invite-wi-'));
    const tokenFile = path.join(folder, 'token');
    writeFileSync(tokenFile, federatedToken);
    const record = await inviteAsApp('wi@fabrikam.com', { federatedToken }, { AZURE_FEDERATED_TOKEN_FILE: tokenFile });
    expect(record.status).toBe('Invited');
  });

  it('gets a fresh token after a 401 and succeeds with it', async () => {
    const tenant = await startEmulatedTenant();
    const { deps, invite } = await runWorker(tenant, tenant.settings);
    await waitForStatus(deps, await invite('before@fabrikam.com'), 'Invited');
    tenant.emulator.revokeIssuedTokens(); // as after a change of the app's permissions
    const record = await waitForStatus(deps, await invite('after@fabrikam.com'), 'Invited');
    expect(tenant.emulator.callsFor('after@fabrikam.com').map((call) => call.status)).toEqual([401, 201]);
    expect(tenant.emulator.tokenRequests).toBe(2);
    expect(record.attempts).toBe(2);
  });

  it('fails nobody while User.Invite.All is not granted, says how to grant it, and invites once it is', async () => {
    const tenant = await startEmulatedTenant();
    tenant.emulator.setRoles(tenant.clientId, []);
    const { deps, logs, invite } = await runWorker(tenant, { ...tenant.settings, GRAPH_SIGNIN_PROBE_SECONDS: '0.5' });
    const id = await invite('noperm@fabrikam.com');
    const waiting = await waitForError(deps, id);
    expect(waiting).toMatchObject({ status: 'Queued', error: { httpStatus: 401, code: 'Unauthorized' } });
    expect(waiting.error?.message).toContain(`Grant the application permission ${USER_INVITE_ALL} (Application`);
    expect((await health(deps)).status).toBe(503);
    // A fresh token without the role does not close the circuit: no call while the permission is missing.
    const callsWhileMissing = tenant.emulator.callsFor('noperm@fabrikam.com').length;
    await waitFor(async () => tenant.emulator.tokenRequests >= 4, { what: 'the circuit to probe for a token twice' });
    expect(tenant.emulator.callsFor('noperm@fabrikam.com')).toHaveLength(callsWhileMissing);

    tenant.emulator.setRoles(tenant.clientId, [USER_INVITE_ALL]);
    const record = await waitForStatus(deps, id, 'Invited');
    expect(record.error).toBeUndefined();
    expect(tenant.emulator.callsFor('noperm@fabrikam.com').map((call) => call.status)).toEqual([401, 401, 201]);
    expect(logs.lines.filter((line) => line.includes('Graph sign-in failing since'))).toHaveLength(1);
    expect((await health(deps)).status).toBe(200);
  });

  it('fails nobody while the client secret is refused, never calls Graph without a token, and resumes by itself', async () => {
    const tenant = await startEmulatedTenant({ tokenFaults: { refuseCredentialsForMs: 2_500 } });
    const { deps, logs, invite } = await runWorker(tenant, { ...tenant.settings, GRAPH_SIGNIN_PROBE_SECONDS: '0.5' });
    const ids = [await invite('rotating1@fabrikam.com'), await invite('rotating2@fabrikam.com')];
    const waiting = await waitForError(deps, ids[0]!);
    expect(waiting).toMatchObject({ status: 'Queued', error: { code: 'AADSTS7000215' } });
    const unhealthy = await health(deps);
    expect(unhealthy.status).toBe(503);
    expect(unhealthy.json.graphCredential).toMatchObject({ state: 'failing', code: 'AADSTS7000215', since: expect.any(String) });
    // The worker logs after it has written the record (and its batch's copy): wait for the line.
    await waitFor(async () => logs.text().includes('The client secret is wrong: set GRAPH_CLIENT_SECRET'), {
      what: 'the log line naming the wrong secret',
    });

    for (const id of ids) expect((await waitForStatus(deps, id, 'Invited')).error).toBeUndefined();
    for (const email of ['rotating1@fabrikam.com', 'rotating2@fabrikam.com']) {
      expect(tenant.emulator.callsFor(email).map((call) => call.status)).toEqual([201]);
    }
    expect((await health(deps)).json).toMatchObject({ healthy: true, graphCredential: { state: 'ok' }, lastOutcomeAt: expect.any(String) });
  });

  it('keeps a person Queued, not Failed, for as long as the client secret is wrong', async () => {
    const tenant = await startEmulatedTenant();
    const { deps, invite } = await runWorker(tenant, {
      ...tenant.settings,
      GRAPH_CLIENT_SECRET: 'wrong',
      GRAPH_SIGNIN_PROBE_SECONDS: '0.5',
    });
    const id = await invite('badsecret@fabrikam.com');
    await waitForError(deps, id);
    await waitFor(async () => tenant.emulator.tokenRequests >= 6, { what: 'several probes' });
    const record = (await deps.store.getById(id))!.record;
    expect(record.status).toBe('Queued');
    expect(record.error?.message).toContain('AADSTS7000215');
    expect(tenant.emulator.callsFor('badsecret@fabrikam.com')).toHaveLength(0);
  });

  it('retries a token endpoint that answers 503 a few times, like a Graph 503, and invites with one call', async () => {
    const tenant = await startEmulatedTenant({ tokenFaults: { unavailableAnswers: 4 } });
    const { deps, invite } = await runWorker(tenant, tenant.settings);
    const record = await waitForStatus(deps, await invite('entra-hiccup@fabrikam.com'), 'Invited');
    expect(tenant.emulator.callsFor('entra-hiccup@fabrikam.com').map((call) => call.status)).toEqual([201]);
    expect(tenant.emulator.tokenRequests).toBeGreaterThanOrEqual(5);
    expect(record.attempts).toBe(1);
  });
});

describe('the managed identity, through the identity endpoint Azure Functions provides', () => {
  // ManagedIdentityCredential finds the endpoint through IDENTITY_ENDPOINT and IDENTITY_HEADER, as
  // on Azure; MSAL reads them once per process, so one tenant and endpoint serve every test here.
  const userAssigned = randomUUID();
  const systemAssigned = randomUUID();
  const withoutPermission = randomUUID();
  let tenant: Awaited<ReturnType<typeof startEmulatedTenant>>;
  let stopEndpoint: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    const tenantId = randomUUID();
    tenant = await startEmulatedTenant({
      apps: [
        { tenantId, clientId: userAssigned, managedIdentity: 'user-assigned' },
        { tenantId, clientId: systemAssigned, managedIdentity: 'system-assigned' },
        { tenantId, clientId: withoutPermission, managedIdentity: 'user-assigned', roles: [] },
      ],
    });
    ({ stop: stopEndpoint } = await announceIdentityEndpoint(tenant.emulator));
  });
  afterAll(async () => {
    await stopEndpoint?.();
    await tenant?.emulator.stop();
  });

  /** The worker with the settings infra/ gives it: no secret, no tenant, at most the identity's client id. */
  async function submitAsManagedIdentity(email: string, env: Record<string, string>) {
    const settings = { GRAPH_AUTHORITY_HOST: tenant.emulator.authorityHost, GRAPH_ENDPOINT: tenant.emulator.graphEndpoint, ...env };
    expect(graphCaller(loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...settings })).kind).toBe('managed identity');
    const deps = await createTestDependencies(settings);
    const running = startWorker(deps);
    cleanup.push(async () => {
      deps.credentialCircuit.dispose();
      await running.stop();
    });
    return { deps, id: (await submit(deps, invitationFor(email))).json.items[0].id as string };
  }

  async function inviteAsManagedIdentity(email: string, env: Record<string, string>) {
    const { deps, id } = await submitAsManagedIdentity(email, env);
    return waitForStatus(deps, id);
  }

  it('invites as the user-assigned identity named by GRAPH_CLIENT_ID (what infra/ deploys)', async () => {
    const record = await inviteAsManagedIdentity('uami@fabrikam.com', { GRAPH_CLIENT_ID: userAssigned });
    expect(record.status).toBe('Invited');
    expect(tenant.emulator.callsFor('uami@fabrikam.com').map((call) => [call.status, call.clientId])).toEqual([[201, userAssigned]]);
  });

  it('invites as the system-assigned identity when no client id is set', async () => {
    const record = await inviteAsManagedIdentity('system@fabrikam.com', {});
    expect(record.status).toBe('Invited');
    expect(tenant.emulator.callsFor('system@fabrikam.com').map((call) => call.clientId)).toEqual([systemAssigned]);
  });

  it('fails nobody, without calling Graph, when GRAPH_CLIENT_ID names no identity of the app', async () => {
    const { deps, id } = await submitAsManagedIdentity('noidentity@fabrikam.com', { GRAPH_CLIENT_ID: randomUUID() });
    const record = await waitForError(deps, id);
    expect(record.status).toBe('Queued');
    expect(record.error?.message).toContain('No User Assigned or Delegated Managed Identity found');
    expect((await health(deps)).status).toBe(503);
    expect(tenant.emulator.callsFor('noidentity@fabrikam.com')).toHaveLength(0);
  });

  it('fails nobody when the identity lacks User.Invite.All, saying how to grant it', async () => {
    const { deps, id } = await submitAsManagedIdentity('uami-noperm@fabrikam.com', { GRAPH_CLIENT_ID: withoutPermission });
    const record = await waitForError(deps, id);
    expect(record).toMatchObject({ status: 'Queued', error: { httpStatus: 401 } });
    expect(record.error?.message).toContain(`Grant the application permission ${USER_INVITE_ALL} (Application`);
  });
});

describe('national clouds', () => {
  it.each([
    ['GCC High', 'https://graph.microsoft.us', 'https://login.microsoftonline.us'],
    ['China (21Vianet)', 'https://microsoftgraph.chinacloudapi.cn', 'https://login.chinacloudapi.cn'],
  ])('calls %s Graph with its own scope and authority', (_, graph, login) => {
    const settings = loadSettings({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      GRAPH_ENDPOINT: `${graph}/`,
      GRAPH_AUTHORITY_HOST: login,
    });
    expect(graphEndpoints(settings)).toEqual({
      invitationsUrl: `${graph}/v1.0/invitations`,
      versionUrl: `${graph}/v1.0`,
      scope: `${graph}/.default`,
      authorityHost: login,
    });
  });

  it('uses the managed identity when no app registration is configured, and the user-assigned one by client id', () => {
    const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
    expect(graphCaller(loadSettings(base)).kind).toBe('managed identity');
    expect(graphCaller(loadSettings({ ...base, GRAPH_CLIENT_ID: randomUUID() })).kind).toBe('managed identity');
    expect(graphCaller(loadSettings({ ...base, GRAPH_TENANT_ID: 't', GRAPH_CLIENT_ID: 'c', GRAPH_CLIENT_SECRET: 's' })).kind).toBe(
      'client secret',
    );
  });
});
