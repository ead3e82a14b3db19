import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { emailAddressProblem, emailDomain, normalizeEmailAddress } from '../../shared/core';
import { headerValue, readBody, sendJson } from './emulatorHttp';
import { EmulatedDirectory, DEFAULT_READ_BUDGET, USER_READ_WRITE_ALL, type DirectoryAnswer } from './directory';
import { EmulatedEntra, USER_INVITE_ALL, type EmulatedApp } from './entra';
import type { LocalCertificate } from './localCertificate';
import { WriteBudget, type WriteBudgetOptions } from './writeBudget';

/**
 * A local HTTPS stand-in for Entra's token endpoint and Graph's POST /v1.0/invitations, faithful
 * enough that the real @azure/identity credentials and our Graph client run against it unchanged.
 * Used by the tests (in-process), by `npm start` and by the benchmarks (`npm run emulator`).
 * The token side lives in entra.ts; the managed identity endpoint in identityEndpoint.ts.
 */

export { USER_INVITE_ALL, type EmulatedApp } from './entra';
export {
  USER_READ_ALL,
  USER_READ_WRITE_ALL,
  USER_ENABLE_DISABLE_ACCOUNT_ALL,
  USER_DELETE_RESTORE_ALL,
  GROUP_MEMBER_READ_WRITE_ALL,
  MAIL_SEND,
  MAIL_READ_BASIC_ALL,
  POLICY_READ_ALL,
  ORGANIZATION_READ_ALL,
  type AllowInvitesFrom,
} from './directory';
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
/** The properties of Graph's invitation resource (v1.0) a request may carry. */
const INVITATION_PROPERTIES = new Set([
  'invitedUserEmailAddress',
  'inviteRedirectUrl',
  'invitedUserDisplayName',
  'invitedUserType',
  'sendInvitationMessage',
  'invitedUserMessageInfo',
  'invitedUser',
  'invitedUserSponsors',
  'resetRedemption',
  'inviteRedeemUrl',
  'status',
  'id',
]);

export interface ScriptedResponse {
  status: number;
  /** Default: Graph's error envelope, or for a 201 the invitation Graph would create. */
  body?: unknown;
  headers?: Record<string, string>;
  /** `cut-created`: send the headers and half the body, then drop the connection (the call took effect). */
  cut?: boolean;
  /** `acted-then-failed`: create the invitation, then answer `status` anyway (a gateway's 504 after Graph acted). */
  createsFirst?: boolean;
}

export interface FaultOptions {
  /** Share (0–1) of invitation calls answered with a transient failure. */
  transientShare: number;
  transientStatuses: number[];
  /** Share (0–1) of those failures that carry Retry-After. */
  retryAfterShare: number;
  retryAfterSeconds: number;
  /**
   * `cut-created`: share (0–1) of invitations that are created but whose 201 loses its connection
   * half-way through the body, so the caller cannot read what was created.
   */
  cutCreatedShare: number;
  /**
   * `denied-person`: invitations of these addresses are refused with `403 Authorization_RequestDenied`
   * ("Insufficient privileges to complete the operation."), as Graph refuses a user the app may not act on.
   */
  deniedEmails: string[];
  /**
   * `tenant-blocked`: Entra's abuse detection. After this many invitations created, every invitation
   * is refused with `403 Forbidden` "Invitations are blocked for this directory due to suspicious
   * activity…" until the block is lifted (set it back to null). Null: never.
   */
  blockTenantAfter: number | null;
  /** `invites-not-allowed`: the tenant's guest-invite setting lets no app invite ("Guest invitations not allowed for your company"). */
  invitesNotAllowed: boolean;
}

export interface EmulatorBehaviour {
  writeBudget: WriteBudgetOptions;
  /** Reads of the user routes (alone or inside a $batch), per app and tenant. */
  readBudget: WriteBudgetOptions;
  latencyMs: number;
  faults: FaultOptions;
  verifiedDomains: string[];
  blockedDomains: string[];
  tokenLifetimeSeconds: number;
}

/** A change of behaviour; faults may be given in part. */
export type BehaviourChange = Partial<Omit<EmulatorBehaviour, 'faults'>> & {
  faults?: Partial<FaultOptions>;
  /** The token endpoint's fault modes (see TokenFaults): answer 503 n times; refuse every credential for a while. */
  tokenFaults?: { unavailableAnswers?: number; refuseCredentialsForMs?: number };
};

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
  /** The invitation was created but its 201 was cut off mid-body. */
  cut?: boolean;
  /** Whether the call asked Graph to send its invitation email (a reminder does). */
  sendInvitationMessage?: boolean;
  /** A reset of an existing user's redemption: the user it named (`invitedUser.id`). */
  resetRedemptionOf?: string;
}

export const DEFAULT_BEHAVIOUR: EmulatorBehaviour = {
  writeBudget: { limit: 3_000, windowMs: 150_000 },
  readBudget: DEFAULT_READ_BUDGET,
  latencyMs: 300,
  faults: {
    transientShare: 0,
    transientStatuses: [503, 504],
    retryAfterShare: 0.5,
    retryAfterSeconds: 1,
    cutCreatedShare: 0,
    deniedEmails: [],
    blockTenantAfter: null,
    invitesNotAllowed: false,
  },
  verifiedDomains: ['contoso.com'],
  blockedDomains: [],
  tokenLifetimeSeconds: 3599,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class GraphEmulator {
  readonly calls: RecordedCall[] = [];
  /** Identity writes other than invitations (group adds, PATCH, DELETE) that the write budget let through. */
  directoryWrites = 0;
  /** When each of those was accepted (epoch ms). */
  readonly directoryWriteTimes: number[] = [];
  /** Of those, the ones answered 429 for the write budget. */
  directoryWritesThrottled = 0;
  behaviour: EmulatorBehaviour;
  /** The tenant's apps and identities, and the tokens it issues. */
  readonly entra: EmulatedEntra;
  /** The tenant's users: the guests invitations created, which the control route redeems. */
  readonly directory = new EmulatedDirectory(() => this.behaviour.readBudget);
  private readonly budgets = new Map<string, WriteBudget>();
  /** Every redemption URL handed out: the links that work. */
  private readonly issuedRedeemUrls = new Set<string>();
  private readonly scripts = new Map<string, ScriptedResponse[]>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    options: GraphEmulatorOptions,
  ) {
    const { certificate: _certificate, apps: _apps, port: _port, ...change } = options;
    this.behaviour = changedBehaviour(DEFAULT_BEHAVIOUR, change);
    this.entra = new EmulatedEntra(url, options.apps, () => this.behaviour.tokenLifetimeSeconds);
    this.directory.referenceBase = `${url}/v1.0/`;
    this.applyTokenFaults(change.tokenFaults);
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

  /** Invitations Graph answered 201 to (a cut one included): what the abuse block counts. */
  invitationsCreated(): number {
    return this.calls.filter((call) => call.status === 201).length;
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
    if (change.readBudget) this.directory.resetReadBudgets();
    this.applyTokenFaults(change.tokenFaults);
  }

  private applyTokenFaults(faults: BehaviourChange['tokenFaults']): void {
    if (faults?.unavailableAnswers !== undefined) this.entra.faults.unavailableAnswers = faults.unavailableAnswers;
    if (faults?.refuseCredentialsForMs !== undefined) this.entra.faults.refuseCredentialsUntil = Date.now() + faults.refuseCredentialsForMs;
  }

  /** Token requests answered (token endpoint and identity endpoint). */
  get tokenRequests(): number {
    return this.entra.tokenRequests;
  }

  setRoles(clientId: string, roles: string[]): void {
    this.entra.setRoles(clientId, roles);
  }

  revokeIssuedTokens(): void {
    this.entra.revokeIssuedTokens();
  }

  reset(): void {
    this.calls.length = 0;
    this.entra.tokenRequests = 0;
    this.scripts.clear();
    this.budgets.clear();
    this.directory.reset();
  }

  /** The guest invited at `email` accepts the invitation now (what the redemption link does). */
  redeem(email: string) {
    return this.directory.redeem(email);
  }

  /** Follows a redemption link: only one this emulator issued works, and it redeems its guest. */
  redeemByUrl(url: string) {
    if (!this.issuedRedeemUrls.has(url)) return undefined;
    const inner = new URL(decodeURIComponent(new URL(url).searchParams.get('rd') ?? ''));
    const user = this.directory.users.get(inner.searchParams.get('user') ?? '');
    return user ? this.directory.redeem(user.mail) : undefined;
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
    const budgetLeft = Object.fromEntries(
      [...this.entra.apps.values()].map((app) => [app.clientId, this.budgetLeft(app.clientId, app.tenantId)]),
    );
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
    if (url.pathname === '/v1.0/$batch' || /^\/v1\.0\/(users|groups|policies|organization)(\/|$)/.test(url.pathname))
      return this.directoryRequest(request, url, body, response);
    if (segments[0] === '_emulator') return this.inspect(request.method ?? 'GET', segments[1], url, body, response);
    if (this.entra.answer(request.method ?? 'GET', segments, body, response)) return;
    sendGraphError(response, 404, 'Request_ResourceNotFound', `Resource not found for the segment '${segments[0] ?? ''}'.`, randomUUID());
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
    const call: RecordedCall = {
      at: Date.now(),
      requestId,
      status: 0,
      ...(email ? { email } : {}),
      sendInvitationMessage: parsed?.sendInvitationMessage === true,
      ...(parsed?.resetRedemption === true ? { resetRedemptionOf: String((parsed.invitedUser as { id?: unknown } | undefined)?.id) } : {}),
    };
    this.calls.push(call);
    const answer = (status: number, payload: unknown, headers: Record<string, string> = {}, cut = false) => {
      call.status = status;
      const allHeaders = { 'request-id': requestId, 'client-request-id': clientRequestId, ...headers };
      if (!cut) return sendJson(response, status, payload, allHeaders);
      call.cut = true;
      sendCutOff(response, status, payload, allHeaders);
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      answer(status, graphError(code, message, requestId, clientRequestId), headers);

    const caller = this.entra.authenticate(headerValue(request, 'authorization'), this.url);
    if ('problem' in caller) return error(401, caller.code, caller.problem);
    call.clientId = caller.clientId;
    if (!caller.roles.includes(USER_INVITE_ALL)) {
      return error(
        401,
        'Unauthorized',
        `Insufficient privileges to perform requested operation by the application '${GRAPH_APP_ID}'. ControllerName=MSGraphInviteAPI, ActionName=CreateInvite, URL absolute path=/api/${caller.tenantId}/invites`,
      );
    }

    // Graph's invitation resource has these properties and no others: anything else is a 400, as
    // Graph answers a property the type does not have (our own fields must never reach it).
    const unknown = Object.keys(parsed ?? {}).find((key) => !INVITATION_PROPERTIES.has(key));
    if (unknown) return error(400, 'BadRequest', `The property '${unknown}' does not exist on type 'microsoft.graph.invitation'.`);

    const { blockTenantAfter, invitesNotAllowed } = this.behaviour.faults;
    if (blockTenantAfter !== null && this.invitationsCreated() >= blockTenantAfter) {
      await sleep(this.behaviour.latencyMs);
      return error(
        403,
        'Forbidden',
        'Invitations are blocked for this directory due to suspicious activity. Please contact Microsoft support for help.',
      );
    }
    if (invitesNotAllowed) {
      await sleep(this.behaviour.latencyMs);
      return error(
        403,
        'Forbidden',
        'Guest invitations not allowed for your company. Contact your company administrator for more details.',
      );
    }
    if (email && this.behaviour.faults.deniedEmails.some((denied) => normalizeEmailAddress(denied) === email)) {
      await sleep(this.behaviour.latencyMs);
      return error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    }
    const scripted = email ? this.scripts.get(email)?.shift() : undefined;
    if (scripted) {
      await sleep(this.behaviour.latencyMs);
      if (scripted.createsFirst && parsed && scripted.status !== 201) this.directory.invited(caller.tenantId, email!, parsed);
      const defaultBody =
        scripted.status === 201 && parsed
          ? this.issued(invitationCreated(this.directory.invited(caller.tenantId, email!, parsed).id, caller.tenantId, parsed))
          : graphError(statusCode(scripted.status), 'Scripted response.', requestId, clientRequestId);
      return answer(scripted.status, scripted.body ?? defaultBody, scripted.headers, scripted.cut);
    }

    const budget = this.budgetFor(caller.clientId, caller.tenantId).take(Date.now());
    if (!budget.ok) {
      return error(429, 'TooManyRequests', 'Please retry again later.', {
        // Graph documents Retry-After in whole seconds.
        'retry-after': String(Math.ceil(budget.retryAfterMs / 1000)),
        'x-ms-throttle-scope': `Tenant_Application/ReadWrite/${caller.clientId}/${caller.tenantId}`,
        'x-ms-throttle-information': 'WriteLimitExceeded',
      });
    }
    const throttleHeaders = throttleLimitHeaders(budget.usedShare);
    await sleep(this.behaviour.latencyMs);

    const { faults } = this.behaviour;
    if (faults.transientShare > 0 && Math.random() < faults.transientShare) {
      const status = faults.transientStatuses[Math.floor(Math.random() * faults.transientStatuses.length)] ?? 503;
      const retryAfter: Record<string, string> =
        Math.random() < faults.retryAfterShare ? { 'retry-after': String(faults.retryAfterSeconds) } : {};
      return error(
        status,
        status === 504 ? 'GatewayTimeout' : 'ServiceUnavailable',
        'The service is temporarily unavailable. Please retry.',
        retryAfter,
      );
    }

    const invalid = validateInvitation(parsed);
    if (invalid) return error(400, 'BadRequest', invalid, throttleHeaders);
    const domain = emailDomain(email!);
    if (this.behaviour.verifiedDomains.some((verified) => domain === verified)) {
      return error(
        400,
        'BadRequest',
        "This user cannot be invited because the domain of the user's email address is a verified domain of this directory.",
        throttleHeaders,
      );
    }
    if (this.behaviour.blockedDomains.some((blocked) => domain === blocked || domain.endsWith(`.${blocked}`))) {
      return error(
        403,
        'Forbidden',
        'This invitation is blocked by cross-tenant access settings. Admins in both organizations must configure cross-tenant access settings to allow the invitation.',
        throttleHeaders,
      );
    }
    const resetOf = parsed!.resetRedemption === true ? String((parsed!.invitedUser as { id?: unknown }).id) : undefined;
    // An app-only reset needs User.ReadWrite.All besides User.Invite.All (Graph's invitation reference).
    if (resetOf && !caller.roles.includes(USER_READ_WRITE_ALL))
      return error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.', throttleHeaders);
    const user = resetOf ? this.directory.resetRedemption(resetOf, email!) : this.directory.invited(caller.tenantId, email!, parsed!);
    if (!user)
      return error(
        404,
        'Request_ResourceNotFound',
        `Resource '${resetOf}' does not exist or one of its queried reference-property objects are not present.`,
      );
    answer(
      201,
      this.issued(invitationCreated(user.id, caller.tenantId, parsed!)),
      throttleHeaders,
      faults.cutCreatedShare > 0 && Math.random() < faults.cutCreatedShare,
    );
  }

  private issued<T extends { inviteRedeemUrl: string }>(created: T): T {
    this.issuedRedeemUrls.add(created.inviteRedeemUrl);
    return created;
  }

  /**
   * Graph's user routes and JSON batching (`POST /$batch`, at most 20 requests, each answered with
   * its own status, a 429 with its own Retry-After). Reads count against the read budget, one per
   * request inside a batch.
   */
  private async directoryRequest(request: IncomingMessage, url: URL, body: string, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const caller = this.entra.authenticate(headerValue(request, 'authorization'), this.url);
    if ('problem' in caller) return sendGraphError(response, 401, caller.code, caller.problem, requestId);
    // Group adds, user updates and deletes are identity writes: the same budget as invitations
    // (3,000 per 150 s per app and tenant), counted as an invitation is, when the request arrives, with
    // the same throttling headers. sendMail is Outlook's, with limits of its own.
    const method = request.method ?? 'GET';
    const path = url.pathname.slice('/v1.0'.length);
    const identityWrite = url.pathname !== '/v1.0/$batch' && ['POST', 'PATCH', 'DELETE'].includes(method) && !/\/sendMail$/.test(path);
    let throttleHeaders: Record<string, string> = {};
    if (identityWrite) {
      const budget = this.budgetFor(caller.clientId, caller.tenantId).take(Date.now());
      if (!budget.ok) {
        this.directoryWritesThrottled += 1;
        return sendGraphError(response, 429, 'TooManyRequests', 'Please retry again later.', requestId, {
          'retry-after': String(Math.ceil(budget.retryAfterMs / 1000)),
          'x-ms-throttle-scope': `Tenant_Application/ReadWrite/${caller.clientId}/${caller.tenantId}`,
          'x-ms-throttle-information': 'WriteLimitExceeded',
        });
      }
      this.directoryWrites += 1;
      this.directoryWriteTimes.push(Date.now());
      throttleHeaders = throttleLimitHeaders(budget.usedShare);
    }
    await sleep(this.behaviour.latencyMs);
    const send = (answer: DirectoryAnswer) => {
      if (answer.dropConnection) {
        response.socket?.destroy();
        return;
      }
      const headers = { 'request-id': requestId, ...throttleHeaders, ...answer.headers };
      if (answer.body === undefined) {
        response.writeHead(answer.status, headers);
        response.end();
        return;
      }
      sendJson(response, answer.status, answer.body, headers);
    };
    const parsed = parseJson(body);
    if (url.pathname !== '/v1.0/$batch') {
      return send(
        this.directory.answer(method, path, url.searchParams, parsed, caller, body, headerValue(request, 'consistencylevel')) ??
          notFoundAnswer(path),
      );
    }
    const requests = (parsed as { requests?: unknown } | undefined)?.requests;
    if (method !== 'POST' || !Array.isArray(requests) || requests.length === 0 || requests.length > 20) {
      return sendGraphError(response, 400, 'BadRequest', 'Invalid batch payload: between 1 and 20 requests are allowed.', requestId);
    }
    const responses = (requests as Array<{ id?: unknown; method?: unknown; url?: unknown; body?: unknown }>).map((inner) => {
      const inside = new URL(String(inner.url ?? '').replace(/^\/?/, '/'), 'https://graph.invalid');
      const answer =
        this.directory.answer(String(inner.method ?? 'GET').toUpperCase(), inside.pathname, inside.searchParams, inner.body, caller) ??
        notFoundAnswer(inside.pathname);
      return {
        id: String(inner.id),
        status: answer.status,
        headers: { 'content-type': 'application/json', ...answer.headers },
        body: answer.body,
      };
    });
    sendJson(response, 200, { responses }, { 'request-id': requestId });
  }

  private inspect(method: string, action: string | undefined, url: URL, body: string, response: ServerResponse): void {
    if (method === 'GET' && action === 'summary') return sendJson(response, 200, this.summary());
    if (method === 'GET' && action === 'calls') {
      const email = url.searchParams.get('email');
      return sendJson(response, 200, { calls: email ? this.callsFor(email) : this.calls });
    }
    if (method === 'POST' && action === 'redeem') {
      const { email } = JSON.parse(body || '{}') as { email?: string };
      const user = email ? this.redeem(email) : undefined;
      return user ? sendJson(response, 200, user) : sendJson(response, 404, { error: `no invited user with email ${email ?? '(none)'}` });
    }
    if (method === 'GET' && action === 'users') return sendJson(response, 200, { users: [...this.directory.users.values()] });
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
    sendJson(response, 404, {
      error:
        'unknown inspection endpoint: use GET /_emulator/summary, GET /_emulator/calls?email=, GET /_emulator/users, POST /_emulator/redeem {"email"}, POST /_emulator/reset, POST /_emulator/configure',
    });
  }
}

function parseJson(body: string): unknown {
  try {
    return body ? (JSON.parse(body) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

function notFoundAnswer(path: string): DirectoryAnswer {
  return {
    status: 404,
    body: graphError('Request_ResourceNotFound', `Resource not found for the segment '${path}'.`, randomUUID(), randomUUID()),
  };
}

function validateInvitation(body: Record<string, unknown> | undefined): string | undefined {
  if (!body || typeof body !== 'object') return 'Write requests (excluding DELETE) must contain the Content-Type header declaration.';
  const email = body.invitedUserEmailAddress;
  if (typeof email !== 'string' || email.length === 0) return 'The invitedUserEmailAddress property is required.';
  if (emailAddressProblem(normalizeEmailAddress(email))) return 'Invalid email address.';
  const redirect = body.inviteRedirectUrl;
  if (typeof redirect !== 'string' || !/^https?:\/\/[^/]+/i.test(redirect))
    return 'The inviteRedirectUrl property is required and must be an absolute URL.';
  if (body.resetRedemption === true && !(body.invitedUser as { id?: unknown } | undefined)?.id)
    return 'invitedUser.id is required when resetRedemption is true.';
  return undefined;
}

function invitationCreated(userId: string, tenantId: string, body: Record<string, unknown>) {
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

/** Headers announcing the whole body, half of it, then the connection drops: what a reset mid-response looks like. */
function sendCutOff(response: ServerResponse, status: number, payload: unknown, headers: Record<string, string>): void {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.byteLength, ...headers });
  response.write(body.subarray(0, Math.floor(body.byteLength / 2)), () => response.socket?.destroy());
}

function graphError(code: string, message: string, requestId: string, clientRequestId: string) {
  return {
    error: {
      code,
      message,
      innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': requestId, 'client-request-id': clientRequestId },
    },
  };
}

function sendGraphError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  requestId: string,
  headers: Record<string, string> = {},
) {
  sendJson(response, status, graphError(code, message, requestId, requestId), { 'request-id': requestId, ...headers });
}

function statusCode(status: number): string {
  return (
    (
      {
        400: 'BadRequest',
        401: 'Unauthorized',
        403: 'Forbidden',
        404: 'NotFound',
        429: 'TooManyRequests',
        500: 'InternalServerError',
        503: 'ServiceUnavailable',
        504: 'GatewayTimeout',
      } as Record<number, string>
    )[status] ?? 'Error'
  );
}

function changedBehaviour(current: EmulatorBehaviour, change: BehaviourChange): EmulatorBehaviour {
  const { tokenFaults: _tokenFaults, ...rest } = change;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, entry]) => entry !== undefined)) as BehaviourChange;
  return { ...current, ...defined, faults: { ...current.faults, ...defined.faults } };
}

/** Graph's x-ms-throttle-limit-percentage, sent only above 80% of a limit (0.8 to 1.8). */
function throttleLimitHeaders(usedShare: number): Record<string, string> {
  return usedShare > 0.8 ? { 'x-ms-throttle-limit-percentage': usedShare.toFixed(1) } : {};
}
