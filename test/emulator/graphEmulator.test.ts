import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityEndpoint } from '../../local/graphEmulator/identityEndpoint';
import { decodeJwt } from '../../local/graphEmulator/jwt';
import { WriteBudget } from '../../local/graphEmulator/writeBudget';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';

let tenant: EmulatedTenant;
beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 0, verifiedDomains: ['contoso.com'], blockedDomains: ['blocked.example'] });
});
afterAll(async () => {
  await tenant?.emulator.stop();
});

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function token(fields: Partial<Record<string, string>> = {}, of: EmulatedTenant = tenant) {
  const response = await fetch(`${of.emulator.url}/${of.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      grant_type: 'client_credentials',
      client_id: of.clientId,
      client_secret: of.clientSecret,
      scope: `${of.emulator.graphEndpoint}/.default`,
      ...(fields as Record<string, string>),
    }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function invite(body: unknown, accessToken?: string) {
  const response = await fetch(`${tenant.emulator.url}/v1.0/invitations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

const invitation = (email: string) => ({ invitedUserEmailAddress: email, inviteRedirectUrl: 'https://myapps.microsoft.com' });

describe('the emulated token endpoint', () => {
  it('publishes OpenID configuration that MSAL needs', async () => {
    const response = await fetch(`${tenant.emulator.url}/${tenant.tenantId}/v2.0/.well-known/openid-configuration`);
    const body = (await response.json()) as Record<string, string>;
    expect(body).toMatchObject({
      issuer: expect.any(String),
      authorization_endpoint: expect.any(String),
      token_endpoint: `${tenant.emulator.url}/${tenant.tenantId}/oauth2/v2.0/token`,
      jwks_uri: expect.any(String),
    });
  });

  it('issues an app-only token with the granted roles for the client secret', async () => {
    const { status, body } = await token();
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number), ext_expires_in: expect.any(Number) });
    const claims = decodeJwt(body.access_token)!.payload;
    expect(claims).toMatchObject({
      aud: tenant.emulator.graphEndpoint,
      tid: tenant.tenantId,
      appid: tenant.clientId,
      roles: ['User.Invite.All'],
    });
  });

  it.each([
    ['a wrong secret', { client_secret: 'nope' }, 'AADSTS7000215'],
    ['an unknown client', { client_id: '00000000-0000-0000-0000-000000000000' }, 'AADSTS700016'],
  ])('answers 401 invalid_client with an AADSTS body for %s', async (_, fields, code) => {
    const { status, body } = await token(fields);
    expect(status).toBe(401);
    expect(body).toMatchObject({
      error: 'invalid_client',
      error_codes: [expect.any(Number)],
      trace_id: expect.any(String),
      correlation_id: expect.any(String),
    });
    expect(body.error_description).toContain(code);
  });

  it('refuses a scope without /.default', async () => {
    const { status, body } = await token({ scope: 'User.Invite.All' });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_scope');
  });
});

describe('the emulated POST /v1.0/invitations', () => {
  it('needs a Bearer token it issued', async () => {
    expect((await invite(invitation('a@fabrikam.com'))).status).toBe(401);
    const forged = await invite(invitation('a@fabrikam.com'), 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln');
    expect(forged.status).toBe(401);
    expect(forged.body.error.code).toBe('InvalidAuthenticationToken');
  });

  it('creates an invitation with the documented body: a new ticket each call, the same user per email', async () => {
    const { body: tokens } = await token();
    const first = await invite(invitation('bea@fabrikam.com'), tokens.access_token);
    const second = await invite(invitation('BEA@fabrikam.com'), tokens.access_token);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      '@odata.context': expect.stringContaining('$metadata#invitations'),
      id: expect.any(String),
      inviteRedeemUrl: expect.stringContaining('ticket'),
      invitedUserEmailAddress: 'bea@fabrikam.com',
      invitedUserType: 'Guest',
      sendInvitationMessage: false,
      status: 'PendingAcceptance',
      invitedUser: { id: expect.any(String) },
    });
    expect(first.headers.get('request-id')).toEqual(expect.any(String));
    expect(second.body.invitedUser.id).toBe(first.body.invitedUser.id);
    expect(second.body.inviteRedeemUrl).not.toBe(first.body.inviteRedeemUrl);
  });

  it("answers Graph's errors in Graph's envelope", async () => {
    const { body: tokens } = await token();
    const invalid = await invite(invitation('bad,address@fabrikam.com'), tokens.access_token);
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toMatchObject({
      code: 'BadRequest',
      message: expect.any(String),
      innerError: { date: expect.any(String), 'request-id': expect.any(String), 'client-request-id': expect.any(String) },
    });
    const verified = await invite(invitation('me@contoso.com'), tokens.access_token);
    expect(verified.body.error.message).toContain('verified domain of this directory');
    const blocked = await invite(invitation('x@sub.blocked.example'), tokens.access_token);
    expect(blocked.status).toBe(403);
  });

  it('answers Insufficient privileges when the app lacks User.Invite.All', async () => {
    tenant.emulator.setRoles(tenant.clientId, []);
    try {
      const { body: tokens } = await token();
      const response = await invite(invitation('c@fabrikam.com'), tokens.access_token);
      expect(response.status).toBe(401);
      expect(response.body.error.message).toContain('Insufficient privileges to perform requested operation by the application');
    } finally {
      tenant.emulator.setRoles(tenant.clientId, ['User.Invite.All']);
    }
  });

  it('throttles like Graph: x-ms-throttle-limit-percentage above 80%, then 429 with a whole-second Retry-After and scope headers', async () => {
    tenant.emulator.configure({ writeBudget: { limit: 5, windowMs: 60_000 } });
    tenant.emulator.reset();
    try {
      const { body: tokens } = await token();
      const responses = [];
      for (let i = 0; i < 6; i += 1) responses.push(await invite(invitation(`t${i}@fabrikam.com`), tokens.access_token));
      expect(responses.map((response) => response.status)).toEqual([201, 201, 201, 201, 201, 429]);
      expect(responses[3]!.headers.get('x-ms-throttle-limit-percentage')).toBeNull();
      expect(responses[4]!.headers.get('x-ms-throttle-limit-percentage')).toBe('1.0');
      const throttled = responses[5]!;
      expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(throttled.headers.get('x-ms-throttle-scope')).toBe(`Tenant_Application/ReadWrite/${tenant.clientId}/${tenant.tenantId}`);
      expect(throttled.headers.get('x-ms-throttle-information')).toBe('WriteLimitExceeded');
      expect(throttled.body.error).toMatchObject({ code: 'TooManyRequests', message: 'Please retry again later.' });
      expect(tenant.emulator.budgetLeft(tenant.clientId, tenant.tenantId)).toBe(0);
    } finally {
      tenant.emulator.configure({ writeBudget: { limit: 3000, windowMs: 150_000 } });
      tenant.emulator.reset();
    }
  });

  it('injects transient faults, with and without Retry-After', async () => {
    tenant.emulator.configure({ faults: { transientShare: 1, transientStatuses: [503, 504], retryAfterShare: 0.5, retryAfterSeconds: 2 } });
    try {
      const { body: tokens } = await token();
      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => invite(invitation(`f${i}@fabrikam.com`), tokens.access_token)),
      );
      expect(new Set(responses.map((response) => response.status))).toEqual(new Set([503, 504]));
      const retryAfters = responses.map((response) => response.headers.get('retry-after'));
      expect(retryAfters).toContain('2');
      expect(retryAfters).toContain(null);
    } finally {
      tenant.emulator.configure({ faults: { transientShare: 0 } });
    }
  });

  it('adds latency like the real API', async () => {
    tenant.emulator.configure({ latencyMs: 150 });
    try {
      const { body: tokens } = await token();
      const started = Date.now();
      await invite(invitation('slowpoke@fabrikam.com'), tokens.access_token);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      tenant.emulator.configure({ latencyMs: 0 });
    }
  });

  it('plays scripted responses per email, in order, then behaves normally', async () => {
    tenant.emulator.script('scripted@fabrikam.com', [
      { status: 503 },
      { status: 400, body: { error: { code: 'Custom', message: 'scripted' } } },
    ]);
    const { body: tokens } = await token();
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await invite(invitation('scripted@fabrikam.com'), tokens.access_token)).status);
    expect(statuses).toEqual([503, 400, 201]);
  });
});

describe("the write budget's shapes", () => {
  it('sliding: at most `limit` writes in any window, Retry-After until the oldest leaves it', () => {
    const budget = new WriteBudget({ limit: 2, windowMs: 1_000 });
    expect([budget.take(0).ok, budget.take(100).ok, budget.take(200)]).toEqual([true, true, { ok: false, retryAfterMs: 800 }]);
    expect(budget.take(1_000).ok).toBe(true);
  });

  it('token bucket: a burst of `limit`, then refilled evenly over the window', () => {
    const budget = new WriteBudget({ limit: 4, windowMs: 1_000, shape: 'tokenBucket' });
    expect([0, 0, 0, 0].map((at) => budget.take(at).ok)).toEqual([true, true, true, true]);
    expect(budget.take(0)).toEqual({ ok: false, retryAfterMs: 250 });
    expect(budget.take(250).ok).toBe(true);
  });

  it('another app of the tenant takes its writes from the budget from a given moment', () => {
    const budget = new WriteBudget({ limit: 20, windowMs: 1_000, otherApp: { writesPerSecond: 10, from: 5_000 } });
    expect(budget.left(4_999)).toBe(20);
    expect(budget.left(5_999)).toBe(10);
  });

  it('another app retries what it was refused, so it gets its rate however hard we press', () => {
    const budget = new WriteBudget({ limit: 20, windowMs: 1_000, otherApp: { writesPerSecond: 10, from: 0 } });
    let ours = 0;
    // We try every 10 ms, ten times what the window holds; the other app still takes its 10/s.
    for (let at = 0; at < 10_000; at += 10) if (budget.take(at).ok) ours += 1;
    expect(ours / 10).toBeGreaterThanOrEqual(9);
    expect(ours / 10).toBeLessThanOrEqual(11);
  });

  it('refuses a share of calls early, although the budget has room', () => {
    const budget = new WriteBudget({ limit: 1_000_000, windowMs: 1_000, earlyThrottleShare: 0.5 });
    const refused = Array.from({ length: 400 }, (_, i) => budget.take(i)).filter((answer) => !answer.ok).length;
    expect(refused).toBeGreaterThan(120);
    expect(refused).toBeLessThan(280);
  });
});

describe('named fault modes', () => {
  it('entra-unavailable: answers the next n token requests 503 temporarily_unavailable with Retry-After, then issues tokens', async () => {
    tenant.emulator.configure({ tokenFaults: { unavailableAnswers: 2 } });
    for (let i = 0; i < 2; i += 1) {
      const { status, body } = await token();
      expect(status).toBe(503);
      expect(body).toMatchObject({ error: 'temporarily_unavailable', error_codes: [90033] });
    }
    expect((await token()).status).toBe(200);
  });

  it('credential-refused: refuses every client secret as wrong (AADSTS7000215) for a while, then accepts it again', async () => {
    tenant.emulator.configure({ tokenFaults: { refuseCredentialsForMs: 300 } });
    const refused = await token();
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    await waitFor(async () => (await token()).status === 200, { timeoutMs: 5_000, what: 'the secret to be accepted again' });
  });

  it('cut-created: creates the invitation, sends its 201 headers and half the body, then drops the connection', async () => {
    const { body: issued } = await token();
    tenant.emulator.script('cutoff@fabrikam.com', [{ status: 201, cut: true }]);
    const response = await fetch(`${tenant.emulator.url}/v1.0/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${issued.access_token}` },
      body: JSON.stringify(invitation('cutoff@fabrikam.com')),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('request-id')).toBeTruthy();
    await expect(response.json()).rejects.toThrow();
    expect(tenant.emulator.callsFor('cutoff@fabrikam.com')).toEqual([expect.objectContaining({ status: 201, cut: true })]);
  });
});

describe('inspection over HTTP', () => {
  it('reports calls per email, statuses and the budget left, and resets', async () => {
    tenant.emulator.reset();
    const { body: tokens } = await token();
    await invite(invitation('seen@fabrikam.com'), tokens.access_token);
    await invite(invitation('seen@fabrikam.com'), tokens.access_token);
    const summary = (await (await fetch(`${tenant.emulator.url}/_emulator/summary`)).json()) as Record<string, any>;
    expect(summary).toMatchObject({ calls: 2, statuses: { 201: 2 }, callsPerEmail: { 'seen@fabrikam.com': 2 }, tokenRequests: 1 });
    expect(summary.budgetLeft[tenant.clientId]).toBe(2998);
    const calls = (await (await fetch(`${tenant.emulator.url}/_emulator/calls?email=seen@fabrikam.com`)).json()) as Record<string, any[]>;
    expect(calls.calls).toHaveLength(2);
    await fetch(`${tenant.emulator.url}/_emulator/configure`, {
      method: 'POST',
      body: JSON.stringify({ scripts: { 'later@fabrikam.com': [{ status: 404 }] } }),
    });
    expect((await invite(invitation('later@fabrikam.com'), tokens.access_token)).status).toBe(404);
    await fetch(`${tenant.emulator.url}/_emulator/reset`, { method: 'POST' });
    expect(tenant.emulator.calls).toHaveLength(0);
  });
});

describe('the managed identity endpoint (IDENTITY_ENDPOINT, as App Service and Functions provide it)', () => {
  const resource = () => encodeURIComponent(tenant.emulator.graphEndpoint);
  async function ask(query: string, header: string | undefined) {
    const endpoint = await IdentityEndpoint.start(tenant.emulator);
    try {
      const response = await fetch(`${endpoint.environment.IDENTITY_ENDPOINT}?${query}`, {
        headers: header === undefined ? {} : { 'x-identity-header': header === 'right' ? endpoint.identityHeader : header },
      });
      return { status: response.status, body: (await response.json()) as Record<string, any> };
    } finally {
      await endpoint.stop();
    }
  }

  it('refuses a request without the secret of IDENTITY_HEADER, or with another', async () => {
    expect((await ask(`api-version=2019-08-01&resource=${resource()}`, undefined)).status).toBe(401);
    expect((await ask(`api-version=2019-08-01&resource=${resource()}`, 'guess')).status).toBe(401);
  });

  it('wants api-version 2019-08-01 and a resource', async () => {
    expect((await ask(`api-version=2017-09-01&resource=${resource()}`, 'right')).status).toBe(400);
    expect((await ask('api-version=2019-08-01', 'right')).status).toBe(400);
  });

  it('knows no identity that the tenant has not given the app', async () => {
    const answer = await ask(`api-version=2019-08-01&resource=${resource()}&client_id=${tenant.clientId}`, 'right');
    expect(answer.status).toBe(400); // an app registration with a secret is not a managed identity
    expect(answer.body.message).toContain('No User Assigned');
  });
});

describe('the emulated user routes and $batch', () => {
  let reader: EmulatedTenant;
  beforeAll(async () => {
    reader = await startEmulatedTenant({ latencyMs: 0, roles: [USER_INVITE_ALL, USER_READ_ALL] });
  });
  afterAll(async () => {
    await reader?.emulator.stop();
  });

  const readerToken = async () => (await token({}, reader)).body.access_token as string;
  const call = async (accessToken: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${reader.emulator.url}/v1.0${path}`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: response.status === 204 ? undefined : ((await response.json()) as any),
    };
  };

  it('creates a PendingAcceptance guest per invitation, which the control route redeems', async () => {
    const accessToken = await readerToken();
    await fetch(`${reader.emulator.url}/v1.0/invitations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(invitation('cleo@fabrikam.com')),
    });
    const user = reader.emulator.directory.findByEmail('cleo@fabrikam.com')!;
    const before = await call(accessToken, 'GET', `/users/${user.id}?$select=externalUserState,userType`);
    expect(before.body).toEqual({ id: user.id, externalUserState: 'PendingAcceptance', userType: 'Guest' });
    const redeemed = await fetch(`${reader.emulator.url}/_emulator/redeem`, {
      method: 'POST',
      body: JSON.stringify({ email: 'cleo@fabrikam.com' }),
    });
    expect(redeemed.status).toBe(200);
    const after = await call(accessToken, 'GET', `/users/${user.id}?$select=externalUserState,externalUserStateChangeDateTime`);
    expect(after.body).toMatchObject({ externalUserState: 'Accepted', externalUserStateChangeDateTime: expect.any(String) });
  });

  it('finds a person by the "already in the directory" query, supported by default; as an advanced query only once its index has caught up', async () => {
    const accessToken = await readerToken();
    const existing = reader.emulator.directory.add({
      mail: 'dana@fabrikam.com',
      userType: 'Guest',
      createdDateTime: new Date().toISOString(),
    });
    const filter =
      "mail eq 'dana@fabrikam.com' or otherMails/any(x:x eq 'dana@fabrikam.com') or proxyAddresses/any(x:x eq 'SMTP:dana@fabrikam.com')";
    const found = await call(accessToken, 'GET', `/users?$filter=${encodeURIComponent(filter)}`);
    expect(found.body.value.map((user: { id: string }) => user.id)).toEqual([existing.id]);
    // The eventually consistent index does not know a user created a moment ago.
    const advanced = await call(accessToken, 'GET', `/users?$filter=${encodeURIComponent(filter)}&$count=true`, undefined, {
      consistencylevel: 'eventual',
    });
    expect(advanced.body.value).toEqual([]);
    expect((await call(accessToken, 'GET', `/users?$filter=${encodeURIComponent(filter)}&$count=true`)).status).toBe(400);
  });

  it('returns only the default properties of a user without $select: the state and creation only when selected', async () => {
    const accessToken = await readerToken();
    const user = reader.emulator.directory.add({ mail: 'fred@fabrikam.com', userType: 'Guest' });
    const plain = await call(accessToken, 'GET', `/users/${user.id}`);
    expect(Object.keys(plain.body).sort()).toEqual(['displayName', 'id', 'mail', 'userPrincipalName']);
    const chosen = await call(accessToken, 'GET', `/users/${user.id}?$select=externalUserState,createdDateTime`);
    expect(chosen.body).toMatchObject({ externalUserState: 'PendingAcceptance', createdDateTime: expect.any(String) });
  });

  it('answers a $batch of at most 20, each request on its own: 404 for a deleted user, 429 with whole-second Retry-After over the read budget', async () => {
    const accessToken = await readerToken();
    const user = reader.emulator.directory.add({ mail: 'eve@fabrikam.com', userType: 'Guest' });
    const tooMany = await call(accessToken, 'POST', '/$batch', {
      requests: Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/users/x' })),
    });
    expect(tooMany.status).toBe(400);
    reader.emulator.configure({ readBudget: { limit: 2, windowMs: 10_000 } });
    const batch = await call(accessToken, 'POST', '/$batch', {
      requests: [
        { id: 'a', method: 'GET', url: `/users/${user.id}` },
        { id: 'b', method: 'GET', url: '/users/00000000-0000-0000-0000-000000000000' },
        { id: 'c', method: 'GET', url: `/users/${user.id}` },
      ],
    });
    expect(batch.status).toBe(200);
    const byId = Object.fromEntries(batch.body.responses.map((response: { id: string }) => [response.id, response]));
    expect(byId.a).toMatchObject({ status: 200, body: { id: user.id } });
    expect(byId.b).toMatchObject({ status: 404, body: { error: { code: 'Request_ResourceNotFound' } } });
    expect(byId.c).toMatchObject({ status: 429, headers: { 'retry-after': expect.stringMatching(/^\d+$/) } });
  });

  it('refuses reads without User.Read.All, and deleting without User.ReadWrite.All', async () => {
    const { body } = await token();
    const user = tenant.emulator.directory.add({ mail: 'finn@fabrikam.com', userType: 'Guest' });
    const read = await fetch(`${tenant.emulator.url}/v1.0/users/${user.id}`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(read.status).toBe(403);
    const accessToken = await readerToken();
    const deleted = await call(accessToken, 'DELETE', `/users/${user.id}`);
    expect(deleted.status).toBe(403);
  });
});
