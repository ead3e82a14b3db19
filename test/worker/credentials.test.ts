import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { USER_INVITE_ALL, type EmulatedApp } from '../../local/graphEmulator/graphEmulator';
import { graphCaller, graphEndpoints } from '../../shared/graph/graphCaller';
import { loadSettings } from '../../shared/settings';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { announceIdentityEndpoint, startEmulatedTenant } from '../support/graphEmulator';
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
  cleanup.push(() => tenant.emulator.stop(), () => running.stop());
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

describe('app-only credentials through @azure/identity', () => {
  it('gets one token with a client secret and reuses it for every call', async () => {
    const tenant = await startEmulatedTenant();
    const { deps, invite } = await runWorker(tenant, tenant.settings);
    const ids = [await invite('s1@fabrikam.com'), await invite('s2@fabrikam.com'), await invite('s3@fabrikam.com')];
    for (const id of ids) await waitForStatus(deps, id, 'Invited');
    expect(tenant.emulator.tokenRequests).toBe(1);
  });

  it('signs in with a client certificate (PEM with key and certificate)', async () => {
    const certificate = await generate([{ name: 'commonName', value: 'invite-pipeline-test' }], { keySize: 2048, algorithm: 'sha256' });
    const folder = mkdtempSync(path.join(tmpdir(), 'invite-cert-'));
    const certificatePath = path.join(folder, 'app.pem');
    writeFileSync(certificatePath, `${certificate.private}\n${certificate.cert}`);
    const record = await inviteAsApp('cert@fabrikam.com', { clientCertificatePem: certificate.cert }, { GRAPH_CLIENT_CERTIFICATE_PATH: certificatePath });
    expect(record.status).toBe('Invited');
  });

  it('signs in with the certificate given as text, as a Key Vault reference gives it (GRAPH_CLIENT_CERTIFICATE)', async () => {
    const certificate = await generate([{ name: 'commonName', value: 'invite-pipeline-kv' }], { keySize: 2048, algorithm: 'sha256' });
    const record = await inviteAsApp('kvcert@fabrikam.com', { clientCertificatePem: certificate.cert }, { GRAPH_CLIENT_CERTIFICATE: `${certificate.private}\n${certificate.cert}` });
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

  it('records Failed after one fresh token when User.Invite.All is not granted, saying how to grant it', async () => {
    const tenant = await startEmulatedTenant();
    tenant.emulator.setRoles(tenant.clientId, []);
    const { deps, invite } = await runWorker(tenant, tenant.settings);
    const record = await waitForStatus(deps, await invite('noperm@fabrikam.com'));
    expect(record.status).toBe('Failed');
    expect(record.error).toMatchObject({ httpStatus: 401, code: 'Unauthorized' });
    expect(record.error?.message).toContain('Insufficient privileges');
    expect(record.error?.message).toContain(`Grant the application permission ${USER_INVITE_ALL} (Application`);
    expect(tenant.emulator.callsFor('noperm@fabrikam.com')).toHaveLength(2);
    expect(tenant.emulator.tokenRequests).toBe(2);
  });

  it('records Failed, never retrying, when the client secret is wrong', async () => {
    const tenant = await startEmulatedTenant();
    const { deps, invite } = await runWorker(tenant, { ...tenant.settings, GRAPH_CLIENT_SECRET: 'wrong' });
    const record = await waitForStatus(deps, await invite('badsecret@fabrikam.com'));
    expect(record.status).toBe('Failed');
    expect(record.error?.message).toContain('AADSTS7000215');
    expect(tenant.emulator.callsFor('badsecret@fabrikam.com')).toHaveLength(0);
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
  async function inviteAsManagedIdentity(email: string, env: Record<string, string>) {
    const settings = { GRAPH_AUTHORITY_HOST: tenant.emulator.authorityHost, GRAPH_ENDPOINT: tenant.emulator.graphEndpoint, ...env };
    expect(graphCaller(loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...settings })).kind).toBe('managed identity');
    const deps = await createTestDependencies(settings);
    const running = startWorker(deps);
    cleanup.push(() => running.stop());
    return waitForStatus(deps, (await submit(deps, invitationFor(email))).json.items[0].id);
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

  it('records Failed, without calling Graph, when GRAPH_CLIENT_ID names no identity of the app', async () => {
    const record = await inviteAsManagedIdentity('noidentity@fabrikam.com', { GRAPH_CLIENT_ID: randomUUID() });
    expect(record.status).toBe('Failed');
    expect(record.error?.message).toContain('No User Assigned or Delegated Managed Identity found');
    expect(tenant.emulator.callsFor('noidentity@fabrikam.com')).toHaveLength(0);
  });

  it('records Failed when the identity lacks User.Invite.All, saying how to grant it', async () => {
    const record = await inviteAsManagedIdentity('uami-noperm@fabrikam.com', { GRAPH_CLIENT_ID: withoutPermission });
    expect(record.status).toBe('Failed');
    expect(record.error).toMatchObject({ httpStatus: 401 });
    expect(record.error?.message).toContain(`Grant the application permission ${USER_INVITE_ALL} (Application`);
  });
});

describe('national clouds', () => {
  it.each([
    ['GCC High', 'https://graph.microsoft.us', 'https://login.microsoftonline.us'],
    ['China (21Vianet)', 'https://microsoftgraph.chinacloudapi.cn', 'https://login.chinacloudapi.cn'],
  ])('calls %s Graph with its own scope and authority', (_, graph, login) => {
    const settings = loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', GRAPH_ENDPOINT: `${graph}/`, GRAPH_AUTHORITY_HOST: login });
    expect(graphEndpoints(settings)).toEqual({ invitationsUrl: `${graph}/v1.0/invitations`, scope: `${graph}/.default`, authorityHost: login });
  });

  it('uses the managed identity when no app registration is configured, and the user-assigned one by client id', () => {
    const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
    expect(graphCaller(loadSettings(base)).kind).toBe('managed identity');
    expect(graphCaller(loadSettings({ ...base, GRAPH_CLIENT_ID: randomUUID() })).kind).toBe('managed identity');
    expect(graphCaller(loadSettings({ ...base, GRAPH_TENANT_ID: 't', GRAPH_CLIENT_ID: 'c', GRAPH_CLIENT_SECRET: 's' })).kind).toBe('client secret');
  });
});
