import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { emailAddressProblem, emailDomain, normalizeEmailAddress } from '../../shared/emailAddress';
import { decodeJwt, certificateThumbprintS256, publicKeyOfCertificate, signJwt, verifyJwtSignature } from './jwt';
import type { LocalCertificate } from './localCertificate';
import { WriteBudget, type WriteBudgetOptions } from './writeBudget';

/**
 * A local HTTPS stand-in for Entra's token endpoint and Graph's POST /v1.0/invitations, faithful
 * enough that the real @azure/identity credentials and our Graph client run against it unchanged.
 * Used by the tests (in-process), by `npm start` and by the benchmarks (`npm run emulator`).
 */

export const USER_INVITE_ALL = 'User.Invite.All';
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

export interface EmulatedApp {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** Public certificate (PEM) whose key signs the app's client assertions. */
  clientCertificatePem?: string;
  /** A federated token (workload identity) the app may present as its client assertion. */
  federatedToken?: string;
  /** Application roles granted with admin consent; default User.Invite.All. */
  roles?: string[];
  /** A managed identity (its service principal): it gets tokens from the identity endpoint, never with a secret. */
  managedIdentity?: 'system-assigned' | 'user-assigned';
}

export interface ScriptedResponse {
  status: number;
  /** Default: Graph's error envelope, or for a 201 the invitation Graph would create. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FaultOptions {
  /** Share (0–1) of invitation calls answered with a transient failure. */
  transientShare: number;
  transientStatuses: number[];
  /** Share (0–1) of those failures that carry Retry-After. */
  retryAfterShare: number;
  retryAfterSeconds: number;
}

export interface EmulatorBehaviour {
  writeBudget: WriteBudgetOptions;
  latencyMs: number;
  faults: FaultOptions;
  verifiedDomains: string[];
  blockedDomains: string[];
  tokenLifetimeSeconds: number;
}

/** A change of behaviour; faults may be given in part. */
export type BehaviourChange = Partial<Omit<EmulatorBehaviour, 'faults'>> & { faults?: Partial<FaultOptions> };

export interface GraphEmulatorOptions extends BehaviourChange {
  certificate: LocalCertificate;
  apps: EmulatedApp[];
  port?: number;
}

export interface RecordedCall {
  at: number;
  email?: string;
  status: number;
  requestId: string;
  clientId?: string;
}

export const DEFAULT_BEHAVIOUR: EmulatorBehaviour = {
  writeBudget: { limit: 3_000, windowMs: 150_000 },
  latencyMs: 300,
  faults: { transientShare: 0, transientStatuses: [503, 504], retryAfterShare: 0.5, retryAfterSeconds: 1 },
  verifiedDomains: ['contoso.com'],
  blockedDomains: [],
  tokenLifetimeSeconds: 3599,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class GraphEmulator {
  readonly calls: RecordedCall[] = [];
  tokenRequests = 0;
  behaviour: EmulatorBehaviour;
  private readonly apps = new Map<string, EmulatedApp>();
  private readonly budgets = new Map<string, WriteBudget>();
  private readonly scripts = new Map<string, ScriptedResponse[]>();
  private readonly signingKey: { privateKey: KeyObject; publicKey: KeyObject; keyId: string };
  private readonly issuedTokenIds = new Set<string>();
  private readonly revokedTokenIds = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    options: GraphEmulatorOptions,
  ) {
    const { certificate: _certificate, apps: _apps, port: _port, ...change } = options;
    this.behaviour = changedBehaviour(DEFAULT_BEHAVIOUR, change);
    for (const app of options.apps) this.apps.set(app.clientId, { roles: [USER_INVITE_ALL], ...app });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.signingKey = { privateKey, publicKey, keyId: randomUUID() };
  }

  static async start(options: GraphEmulatorOptions): Promise<GraphEmulator> {
    const server = createServer({ cert: options.certificate.certificatePem, key: options.certificate.privateKeyPem });
    server.listen(options.port ?? 0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const emulator = new GraphEmulator(server, `https://localhost:${port}`, options);
    server.on('request', (request, response) => {
      emulator.route(request, response).catch((error: unknown) => {
        if (!response.headersSent) sendJson(response, 500, { error: { code: 'InternalServerError', message: String(error) } });
      });
    });
    return emulator;
  }

  /** Where @azure/identity should ask for tokens (GRAPH_AUTHORITY_HOST) and Graph calls go (GRAPH_ENDPOINT). */
  get authorityHost(): string {
    return this.url;
  }
  get graphEndpoint(): string {
    return this.url;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }

  /** Invitation calls received for one person (every status, throttled ones included). */
  callsFor(email: string): RecordedCall[] {
    const normalized = normalizeEmailAddress(email);
    return this.calls.filter((call) => call.email === normalized);
  }

  /** The next calls for `email` get these answers, in order, before any other behaviour. */
  script(email: string, responses: ScriptedResponse[]): void {
    this.scripts.set(normalizeEmailAddress(email), [...responses]);
  }

  configure(change: BehaviourChange): void {
    this.behaviour = changedBehaviour(this.behaviour, change);
    if (change.writeBudget) for (const budget of this.budgets.values()) budget.options = this.behaviour.writeBudget;
  }

  setRoles(clientId: string, roles: string[]): void {
    const app = this.apps.get(clientId);
    if (!app) throw new Error(`No app ${clientId} in the emulator.`);
    app.roles = roles;
  }

  /** Tokens issued until now are refused (as after a permission change), so clients must fetch new ones. */
  revokeIssuedTokens(): void {
    for (const tokenId of this.issuedTokenIds) this.revokedTokenIds.add(tokenId);
  }

  reset(): void {
    this.calls.length = 0;
    this.tokenRequests = 0;
    this.scripts.clear();
    this.budgets.clear();
  }

  budgetLeft(clientId: string, tenantId: string): number {
    return this.budgetFor(clientId, tenantId).left(Date.now());
  }

  summary() {
    const callsPerEmail: Record<string, number> = {};
    const statuses: Record<string, number> = {};
    for (const call of this.calls) {
      if (call.email) callsPerEmail[call.email] = (callsPerEmail[call.email] ?? 0) + 1;
      statuses[call.status] = (statuses[call.status] ?? 0) + 1;
    }
    const budgetLeft = Object.fromEntries([...this.apps.values()].map((app) => [app.clientId, this.budgetLeft(app.clientId, app.tenantId)]));
    return { calls: this.calls.length, statuses, callsPerEmail, tokenRequests: this.tokenRequests, budgetLeft };
  }

  private budgetFor(clientId: string, tenantId: string): WriteBudget {
    const key = `${clientId}/${tenantId}`;
    let budget = this.budgets.get(key);
    if (!budget) {
      budget = new WriteBudget(this.behaviour.writeBudget);
      this.budgets.set(key, budget);
    }
    return budget;
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const segments = url.pathname.split('/').filter(Boolean);
    const body = await readBody(request);
    if (request.method === 'POST' && url.pathname === '/v1.0/invitations') return this.createInvitation(request, body, response);
    if (segments[0] === '_emulator') return this.inspect(request.method ?? 'GET', segments[1], url, body, response);
    const tenant = segments[0];
    const rest = segments.slice(1).join('/');
    if (tenant && request.method === 'GET' && rest === 'v2.0/.well-known/openid-configuration') {
      return sendJson(response, 200, {
        issuer: `${this.url}/${tenant}/v2.0`,
        authorization_endpoint: `${this.url}/${tenant}/oauth2/v2.0/authorize`,
        token_endpoint: `${this.url}/${tenant}/oauth2/v2.0/token`,
        jwks_uri: `${this.url}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      });
    }
    if (tenant && request.method === 'GET' && rest === 'discovery/v2.0/keys') {
      return sendJson(response, 200, { keys: [{ ...this.signingKey.publicKey.export({ format: 'jwk' }), kid: this.signingKey.keyId, use: 'sig', alg: 'RS256' }] });
    }
    if (tenant && request.method === 'POST' && rest === 'oauth2/v2.0/token') return this.issueToken(tenant, body, response);
    sendGraphError(response, 404, 'Request_ResourceNotFound', `Resource not found for the segment '${segments[0] ?? ''}'.`, randomUUID());
  }

  private issueToken(tenantId: string, body: string, response: ServerResponse): void {
    this.countTokenRequest();
    const form = new URLSearchParams(body);
    const clientId = form.get('client_id') ?? '';
    const app = this.apps.get(clientId);
    const tokenEndpoint = `${this.url}/${tenantId}/oauth2/v2.0/token`;
    const fail = (status: number, error: string, code: number, description: string) =>
      sendJson(response, status, {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
        error_codes: [code],
        timestamp: new Date().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      });
    if (form.get('grant_type') !== 'client_credentials') return fail(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const scope = form.get('scope') ?? '';
    const resource = scope.split(' ').find((value) => value.endsWith('/.default'))?.slice(0, -'/.default'.length);
    if (!resource) return fail(400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`);
    if (!app || app.tenantId !== tenantId) {
      return fail(401, 'invalid_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenantId}'.`);
    }
    if (!this.clientAuthenticated(app, form, tokenEndpoint)) {
      return fail(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    }
    const { accessToken, expiresIn } = this.issueAccessToken(app, resource);
    sendJson(response, 200, { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: accessToken });
  }

  /** An app-only access token for `resource`, with the app's granted roles, as Entra signs it. */
  issueAccessToken(app: EmulatedApp, resource: string): { accessToken: string; expiresIn: number } {
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = this.behaviour.tokenLifetimeSeconds;
    const tokenId = randomUUID();
    this.issuedTokenIds.add(tokenId);
    const accessToken = signJwt(
      {
        aud: resource,
        iss: `https://sts.windows.net/${app.tenantId}/`,
        iat: now,
        nbf: now,
        exp: now + expiresIn,
        appid: app.clientId,
        azp: app.clientId,
        idtyp: 'app',
        oid: uuidFrom(`sp:${app.clientId}`),
        sub: uuidFrom(`sp:${app.clientId}`),
        tid: app.tenantId,
        roles: app.roles ?? [],
        jti: tokenId,
      },
      this.signingKey.privateKey,
      this.signingKey.keyId,
    );
    return { accessToken, expiresIn };
  }

  /** The managed identity a token request on the identity endpoint names: by client id, or the system-assigned one. */
  managedIdentity(clientId: string | null): EmulatedApp | undefined {
    return [...this.apps.values()].find((app) => (clientId ? app.managedIdentity === 'user-assigned' && app.clientId === clientId : app.managedIdentity === 'system-assigned'));
  }

  countTokenRequest(): void {
    this.tokenRequests += 1;
  }

  private clientAuthenticated(app: EmulatedApp, form: URLSearchParams, tokenEndpoint: string): boolean {
    const secret = form.get('client_secret');
    if (secret !== null) return app.clientSecret !== undefined && secret === app.clientSecret;
    const assertion = form.get('client_assertion');
    if (assertion === null || form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return false;
    if (app.federatedToken !== undefined && assertion === app.federatedToken) return true;
    if (!app.clientCertificatePem) return false;
    const jwt = decodeJwt(assertion);
    if (!jwt || !verifyJwtSignature(jwt, publicKeyOfCertificate(app.clientCertificatePem))) return false;
    const thumbprint = jwt.header['x5t#S256'];
    if (thumbprint !== undefined && thumbprint !== certificateThumbprintS256(app.clientCertificatePem)) return false;
    const { aud, iss, sub, exp } = jwt.payload;
    return aud === tokenEndpoint && iss === app.clientId && sub === app.clientId && typeof exp === 'number' && exp > Date.now() / 1000;
  }

  private async createInvitation(request: IncomingMessage, body: string, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const clientRequestId = headerValue(request, 'client-request-id') ?? requestId;
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(body) as Record<string, unknown>;
    } catch {
      parsed = undefined;
    }
    const email = typeof parsed?.invitedUserEmailAddress === 'string' ? normalizeEmailAddress(parsed.invitedUserEmailAddress) : undefined;
    const call: RecordedCall = { at: Date.now(), requestId, status: 0, ...(email ? { email } : {}) };
    this.calls.push(call);
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      sendJson(response, status, payload, { 'request-id': requestId, 'client-request-id': clientRequestId, ...headers });
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      answer(status, graphError(code, message, requestId, clientRequestId), headers);

    const caller = this.authenticate(headerValue(request, 'authorization'));
    if ('problem' in caller) return error(401, caller.code, caller.problem);
    call.clientId = caller.clientId;
    if (!caller.roles.includes(USER_INVITE_ALL)) {
      return error(
        401,
        'Unauthorized',
        `Insufficient privileges to perform requested operation by the application '${GRAPH_APP_ID}'. ControllerName=MSGraphInviteAPI, ActionName=CreateInvite, URL absolute path=/api/${caller.tenantId}/invites`,
      );
    }

    const scripted = email ? this.scripts.get(email)?.shift() : undefined;
    if (scripted) {
      await sleep(this.behaviour.latencyMs);
      const defaultBody =
        scripted.status === 201 && parsed ? invitationCreated(caller.tenantId, email!, parsed) : graphError(statusCode(scripted.status), 'Scripted response.', requestId, clientRequestId);
      return answer(scripted.status, scripted.body ?? defaultBody, scripted.headers);
    }

    const budget = this.budgetFor(caller.clientId, caller.tenantId).take(Date.now());
    if (!budget.ok) {
      return error(429, 'TooManyRequests', 'Please retry again later.', {
        'retry-after': (budget.retryAfterMs / 1000).toFixed(3),
        'x-ms-throttle-scope': `Tenant_Application/ReadWrite/${caller.clientId}/${caller.tenantId}`,
        'x-ms-throttle-information': 'WriteLimitExceeded',
      });
    }
    const throttleHeaders: Record<string, string> = budget.usedShare > 0.8 ? { 'x-ms-throttle-limit-percentage': budget.usedShare.toFixed(1) } : {};
    await sleep(this.behaviour.latencyMs);

    const { faults } = this.behaviour;
    if (faults.transientShare > 0 && Math.random() < faults.transientShare) {
      const status = faults.transientStatuses[Math.floor(Math.random() * faults.transientStatuses.length)] ?? 503;
      const retryAfter: Record<string, string> = Math.random() < faults.retryAfterShare ? { 'retry-after': String(faults.retryAfterSeconds) } : {};
      return error(status, status === 504 ? 'GatewayTimeout' : 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry.', retryAfter);
    }

    const invalid = validateInvitation(parsed);
    if (invalid) return error(400, 'BadRequest', invalid, throttleHeaders);
    const domain = emailDomain(email!);
    if (this.behaviour.verifiedDomains.some((verified) => domain === verified)) {
      return error(400, 'BadRequest', "This user cannot be invited because the domain of the user's email address is a verified domain of this directory.", throttleHeaders);
    }
    if (this.behaviour.blockedDomains.some((blocked) => domain === blocked || domain.endsWith(`.${blocked}`))) {
      return error(403, 'Forbidden', 'This invitation is blocked by cross-tenant access settings. Admins in both organizations must configure cross-tenant access settings to allow the invitation.', throttleHeaders);
    }
    answer(201, invitationCreated(caller.tenantId, email!, parsed!), throttleHeaders);
  }

  private authenticate(authorization: string | undefined):
    | { clientId: string; tenantId: string; roles: string[] }
    | { problem: string; code: string } {
    const token = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
    if (!token) return { code: 'InvalidAuthenticationToken', problem: 'Access token is empty.' };
    const jwt = decodeJwt(token);
    if (!jwt || !verifyJwtSignature(jwt, this.signingKey.publicKey)) {
      return { code: 'InvalidAuthenticationToken', problem: 'Access token validation failure. Invalid signature.' };
    }
    const { aud, exp, jti, appid, tid, roles } = jwt.payload as Record<string, unknown>;
    if (aud !== this.url) return { code: 'InvalidAuthenticationToken', problem: 'Access token validation failure. Invalid audience.' };
    if (typeof exp !== 'number' || exp <= Date.now() / 1000) return { code: 'InvalidAuthenticationToken', problem: 'Lifetime validation failed, the token is expired.' };
    if (this.revokedTokenIds.has(String(jti))) return { code: 'InvalidAuthenticationToken', problem: 'Access token has been revoked.' };
    return { clientId: String(appid), tenantId: String(tid), roles: Array.isArray(roles) ? roles.map(String) : [] };
  }

  private inspect(method: string, action: string | undefined, url: URL, body: string, response: ServerResponse): void {
    if (method === 'GET' && action === 'summary') return sendJson(response, 200, this.summary());
    if (method === 'GET' && action === 'calls') {
      const email = url.searchParams.get('email');
      return sendJson(response, 200, { calls: email ? this.callsFor(email) : this.calls });
    }
    if (method === 'POST' && action === 'reset') {
      this.reset();
      return sendJson(response, 200, { reset: true });
    }
    if (method === 'POST' && action === 'configure') {
      const { scripts, ...behaviour } = JSON.parse(body || '{}') as BehaviourChange & { scripts?: Record<string, ScriptedResponse[]> };
      this.configure(behaviour);
      for (const [email, responses] of Object.entries(scripts ?? {})) this.script(email, responses);
      return sendJson(response, 200, this.behaviour);
    }
    sendJson(response, 404, { error: 'unknown inspection endpoint: use GET /_emulator/summary, GET /_emulator/calls?email=, POST /_emulator/reset, POST /_emulator/configure' });
  }
}

function validateInvitation(body: Record<string, unknown> | undefined): string | undefined {
  if (!body || typeof body !== 'object') return 'Write requests (excluding DELETE) must contain the Content-Type header declaration.';
  const email = body.invitedUserEmailAddress;
  if (typeof email !== 'string' || email.length === 0) return 'The invitedUserEmailAddress property is required.';
  if (emailAddressProblem(normalizeEmailAddress(email))) return 'Invalid email address.';
  const redirect = body.inviteRedirectUrl;
  if (typeof redirect !== 'string' || !/^https?:\/\/[^/]+/i.test(redirect)) return 'The inviteRedirectUrl property is required and must be an absolute URL.';
  if (body.resetRedemption === true && !(body.invitedUser as { id?: unknown } | undefined)?.id) return 'invitedUser.id is required when resetRedemption is true.';
  return undefined;
}

function invitationCreated(tenantId: string, email: string, body: Record<string, unknown>) {
  const userId = uuidFrom(`user:${tenantId}:${email}`);
  const ticket = createHash('sha256').update(randomUUID()).digest('hex').slice(0, 40);
  const redeem = `https://invitations.microsoft.com/redeem/?tenant=${tenantId}&user=${userId}&ticket=${ticket}&ver=2.0`;
  return {
    '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#invitations/$entity',
    id: randomUUID(),
    inviteRedeemUrl: `https://login.microsoftonline.com/redeem?rd=${encodeURIComponent(redeem).toLowerCase()}`,
    invitedUserDisplayName: body.invitedUserDisplayName ?? null,
    invitedUserType: body.invitedUserType ?? 'Guest',
    invitedUserEmailAddress: body.invitedUserEmailAddress,
    sendInvitationMessage: body.sendInvitationMessage ?? false,
    resetRedemption: body.resetRedemption ?? false,
    inviteRedirectUrl: body.inviteRedirectUrl,
    status: 'PendingAcceptance',
    invitedUserMessageInfo: body.invitedUserMessageInfo ?? { messageLanguage: null, ccRecipients: [], customizedMessageBody: null },
    invitedUser: { id: userId },
  };
}

function graphError(code: string, message: string, requestId: string, clientRequestId: string) {
  return { error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': requestId, 'client-request-id': clientRequestId } } };
}

function sendGraphError(response: ServerResponse, status: number, code: string, message: string, requestId: string) {
  sendJson(response, status, graphError(code, message, requestId, requestId), { 'request-id': requestId });
}

function statusCode(status: number): string {
  return ({ 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 429: 'TooManyRequests', 500: 'InternalServerError', 503: 'ServiceUnavailable', 504: 'GatewayTimeout' } as Record<number, string>)[status] ?? 'Error';
}

function uuidFrom(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(response: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(payload);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

function changedBehaviour(current: EmulatorBehaviour, change: BehaviourChange): EmulatorBehaviour {
  const defined = Object.fromEntries(Object.entries(change).filter(([, entry]) => entry !== undefined)) as BehaviourChange;
  return { ...current, ...defined, faults: { ...current.faults, ...defined.faults } };
}
