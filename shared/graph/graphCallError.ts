import { z } from 'zod';

/**
 * A failed Graph call, classified for the worker:
 * - throttled (429): wait for Retry-After; never a reason to give up or burn a dequeue;
 * - transient (503, 504, other 5xx, network, timeouts, an unavailable token endpoint): back off and retry;
 * - unauthorized (401): one fresh token, then it is the app's configuration (credential);
 * - credential: the app cannot sign in or lacks its permission — the same for every person, so
 *   nobody is Failed for it: the worker stops calling Graph until a token works (credentialCircuit.ts);
 * - tenant: a refusal about the tenant, not the person (Entra's abuse block, guest invitations not
 *   allowed for the app, the directory full): every invitation would get it, and each refused
 *   call is one more failed attempt Entra's abuse detection counts — so sending pauses (tenantPause.ts);
 * - permanent (400, 403 about the person, 404, other 4xx): the same request would fail again — one call only.
 */
export type GraphFailureKind = 'throttled' | 'transient' | 'unauthorized' | 'credential' | 'tenant' | 'permanent';

/** The code of a transient token failure: Entra did not answer in time or answered 5xx. */
export const TOKEN_ENDPOINT_UNAVAILABLE = 'TokenEndpointUnavailable';

export interface GraphCallErrorOptions {
  kind: GraphFailureKind;
  /** Graph's error code (`Request_ResourceNotFound`, `TooManyRequests` …), or ours where Graph gave none. */
  code: string;
  httpStatus?: number | undefined;
  /** Graph's request-id: what Microsoft support asks for. */
  graphRequestId?: string | undefined;
  /** From Retry-After (seconds, fractional allowed), in ms. */
  retryAfterMs?: number | undefined;
  /** Where it failed: getting a token (Graph was not called) or calling Graph. @default 'graph' */
  stage?: 'token' | 'graph';
  cause?: unknown;
}

/** A message and an options object, as core-rest-pipeline's RestError takes them. */
export class GraphCallError extends Error {
  override readonly name = 'GraphCallError';
  readonly kind: GraphFailureKind;
  readonly code: string;
  readonly httpStatus?: number;
  readonly graphRequestId?: string;
  readonly retryAfterMs?: number;
  readonly stage: 'token' | 'graph';

  constructor(message: string, { kind, code, httpStatus, graphRequestId, retryAfterMs, stage = 'graph', cause }: GraphCallErrorOptions) {
    super(message, cause === undefined ? undefined : { cause });
    this.kind = kind;
    this.code = code;
    if (httpStatus !== undefined) this.httpStatus = httpStatus;
    if (graphRequestId !== undefined) this.graphRequestId = graphRequestId;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
    this.stage = stage;
  }
}

// Graph's error envelope; the docs spell it `innererror`, responses `innerError`: accept both.
const graphErrorBodySchema = z.object({
  error: z.object({
    code: z.string().optional(),
    message: z.string().optional(),
    innerError: z.object({ 'request-id': z.string().optional() }).loose().optional(),
    innererror: z.object({ 'request-id': z.string().optional() }).loose().optional(),
  }),
});

// 403s that say the app lacks its permission: not about the person, and fixed by an admin's
// consent, which a fresh token shows. A 403 for a blocked domain is about the person, and so are
// the tenant's own refusals ("Guest invitations not allowed", suspicious activity), which no token
// fixes and which Graph says per invitation.
const PERMISSION_403 = /Authorization_RequestDenied|Insufficient privileges/i;

/**
 * Graph's answers about the tenant, as users and Microsoft's troubleshooting pages quote them:
 * the abuse block ("Invitations are blocked for this directory due to suspicious activity. Please
 * contact Microsoft support for help."), the guest-invite setting ("Guest invitations not allowed
 * for your company…"), and the directory's object quota ("The directory object quota limit for the
 * Tenant has been exceeded", Directory_QuotaExceeded).
 */
export const TENANT_REFUSALS = {
  abuseBlock: /invitations are blocked for this directory due to suspicious activity/i,
  invitesNotAllowed: /guest invitations not allowed for your company/i,
  directoryFull: /directory object quota limit for the tenant has been exceeded|Directory_QuotaExceeded/i,
} as const;
export type TenantRefusal = keyof typeof TENANT_REFUSALS;

export function tenantRefusalOf(code: string, message: string): TenantRefusal | undefined {
  return (Object.keys(TENANT_REFUSALS) as TenantRefusal[]).find((refusal) => TENANT_REFUSALS[refusal].test(`${code} ${message}`));
}

export function failureKindOf(httpStatus: number, code = '', message = ''): GraphFailureKind {
  if (httpStatus === 429) return 'throttled';
  if (httpStatus >= 400 && httpStatus < 500 && tenantRefusalOf(code, message)) return 'tenant';
  if (httpStatus === 401) return 'unauthorized';
  if (httpStatus === 403 && PERMISSION_403.test(`${code} ${message}`)) return 'credential';
  if (httpStatus >= 500) return 'transient';
  return 'permanent';
}

// OAuth errors that a retry cannot fix, only an operator (Entra's AADSTS error code reference: https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
const CONFIGURATION_OAUTH_ERRORS = /^(invalid_client|unauthorized_client|invalid_scope|invalid_resource|invalid_grant)\b/;
// AADSTS codes of the same kind: wrong or expired secret, bad certificate assertion, unknown app or tenant, disabled app.
const CONFIGURATION_AADSTS = new Set(['7000215', '7000222', '700027', '700016', '90002', '7000112', '700024', '500011']);
// A managed identity that the platform does not know (no such identity on the app).
const UNKNOWN_MANAGED_IDENTITY = /No (User Assigned|system-assigned)|managed identity/i;

/**
 * A failed token request as a GraphCallError. @azure/identity reports Entra's answer in the
 * message (`invalid_client: Error(s): 7000215 - ... AADSTS7000215: ...`) and a network failure
 * as a CredentialUnavailableError; what an operator must fix is `credential`, the rest transient.
 */
export function tokenRequestError(error: unknown, scope: string): GraphCallError {
  const message = errorText(error);
  const aadsts = /AADSTS(\d+)/.exec(message)?.[1] ?? /Error\(s\): (\d+)/.exec(message)?.[1];
  const oauthError = /^([a-z_]+):/.exec(message)?.[1];
  const unknownIdentity =
    (error as Error)?.name === 'CredentialUnavailableError' &&
    UNKNOWN_MANAGED_IDENTITY.test(message) &&
    !/endpoints_resolution_error|network|ECONN|ETIMEDOUT/i.test(message);
  const configuration =
    CONFIGURATION_OAUTH_ERRORS.test(message) || (aadsts !== undefined && CONFIGURATION_AADSTS.has(aadsts)) || unknownIdentity;
  const code = aadsts ? `AADSTS${aadsts}` : (oauthError ?? (configuration ? 'TokenRequestRefused' : TOKEN_ENDPOINT_UNAVAILABLE));
  return new GraphCallError(`Could not get a token for ${scope}: ${message}`, {
    kind: configuration ? 'credential' : 'transient',
    code: configuration ? code : TOKEN_ENDPOINT_UNAVAILABLE,
    stage: 'token',
    cause: error,
  });
}

/**
 * One request to Graph within `timeoutMs`. A failure before any answer (no connection, no answer
 * in time) is a transient GraphCallError, Timeout or NetworkError: whether Graph acted is unknown.
 */
export async function fetchGraph(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))) });
  } catch (error) {
    const timedOut = error instanceof Error && error.name === 'TimeoutError';
    throw new GraphCallError(
      timedOut ? `Graph did not answer within ${Math.ceil(timeoutMs)} ms.` : `Graph could not be reached: ${errorText(error)}`,
      { kind: 'transient', code: timedOut ? 'Timeout' : 'NetworkError', cause: error },
    );
  }
}

/** Error text for our own messages: the first line, with the cause fetch hides in `cause`. */
export function errorText(error: unknown): string {
  const message =
    error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error);
  return message.split('\n')[0]!.slice(0, 300);
}

export function parseRetryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds * 1000);
  const date = Date.parse(header); // an HTTP-date is allowed too (RFC 9110 §10.2.3)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export async function graphCallErrorFromResponse(response: Response): Promise<GraphCallError> {
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return graphCallErrorFrom(response.status, (name) => response.headers.get(name), body, response.statusText);
}

/** A Graph answer that is not a success as a GraphCallError: a whole response, or one answer inside a `$batch`. */
export function graphCallErrorFrom(
  status: number,
  header: (name: string) => string | null | undefined,
  json: unknown,
  statusText = '',
): GraphCallError {
  const parsed = graphErrorBodySchema.safeParse(json);
  const body = parsed.success ? parsed.data : undefined;
  const requestId = header('request-id') ?? body?.error.innerError?.['request-id'] ?? body?.error.innererror?.['request-id'] ?? undefined;
  const code = body?.error.code ?? `Http${status}`;
  const message = body?.error.message ?? (statusText || `Graph answered ${status}`);
  return new GraphCallError(message, {
    kind: failureKindOf(status, code, message),
    code,
    httpStatus: status,
    graphRequestId: requestId,
    retryAfterMs: parseRetryAfterMs(header('retry-after') ?? null),
  });
}

/**
 * Whether a failed call may have reached Graph and taken effect: the connection failed or timed out
 * after the request was sent, or a gateway answered for Graph. A 429, a 503 and every 4xx are refusals.
 */
export function mayHaveActed(error: { code: string; httpStatus?: number | undefined }): boolean {
  return (
    error.code === 'NetworkError' ||
    error.code === 'Timeout' ||
    error.httpStatus === 500 ||
    error.httpStatus === 502 ||
    error.httpStatus === 504
  );
}
