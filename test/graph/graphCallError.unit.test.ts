import { describe, expect, it } from 'vitest';
import { GraphCallError, graphCallErrorFrom, mayHaveActed, parseRetryAfterMs, tokenRequestError } from '../../shared/graph/graphCallError';

/** How a failed Graph call is classified (shared/graph/graphCallError.ts): what the sender and the worker decide by. */
describe('a failed Graph call', () => {
  const answer = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    graphCallErrorFrom(status, (name) => headers[name], { error: { code, message, innerError: { 'request-id': 'r-1' } } });

  it.each([
    [429, 'TooManyRequests', 'Please retry again later.', 'throttled'],
    [503, 'ServiceUnavailable', 'Try later.', 'transient'],
    [504, 'GatewayTimeout', 'Timed out.', 'transient'],
    [401, 'InvalidAuthenticationToken', 'Access token has expired.', 'unauthorized'],
    [403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.', 'credential'],
    [
      403,
      'Forbidden',
      'Invitations are blocked for this directory due to suspicious activity. Please contact Microsoft support for help.',
      'tenant',
    ],
    [403, 'Forbidden', 'Guest invitations not allowed for your company. Contact your company administrator for more details.', 'tenant'],
    [400, 'Directory_QuotaExceeded', 'The directory object quota limit for the Tenant has been exceeded.', 'tenant'],
    [400, 'BadRequest', 'The invited user email address is invalid.', 'permanent'],
    [403, 'Forbidden', 'The domain fabrikam.com is blocked by the cross-tenant access settings.', 'permanent'],
    [404, 'Request_ResourceNotFound', 'Resource does not exist.', 'permanent'],
  ])('answered %s %s is %s', (status, code, message, kind) => {
    const error = answer(status, code, message);
    expect(error).toMatchObject({ kind, code, httpStatus: status, graphRequestId: 'r-1', message, stage: 'graph' });
  });

  it('carries Retry-After in ms, fractional seconds and HTTP-dates alike', () => {
    expect(answer(429, 'TooManyRequests', 'Later.', { 'retry-after': '2.128' }).retryAfterMs).toBe(2_128);
    expect(parseRetryAfterMs('0')).toBe(0);
    expect(parseRetryAfterMs(null)).toBeUndefined();
    expect(parseRetryAfterMs('soon')).toBeUndefined();
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfterMs(inTenSeconds)).toBeGreaterThan(8_000);
  });

  it('says whether a failed call may have reached Graph: only a lost connection, a timeout or a gateway', () => {
    for (const status of [500, 502, 504]) expect(mayHaveActed(answer(status, 'Http', 'x'))).toBe(true);
    for (const status of [400, 403, 429, 503]) expect(mayHaveActed(answer(status, 'Http', 'x'))).toBe(false);
    expect(mayHaveActed(new GraphCallError('Graph could not be reached.', { kind: 'transient', code: 'NetworkError' }))).toBe(true);
  });

  it('tells a token the operator must fix from a token endpoint that is away, and keeps the cause', () => {
    const wrongSecret = new Error('invalid_client: Error(s): 7000215 - AADSTS7000215: Invalid client secret provided.');
    const refused = tokenRequestError(wrongSecret, 'https://graph.microsoft.com/.default');
    expect(refused).toMatchObject({ kind: 'credential', code: 'AADSTS7000215', stage: 'token' });
    expect(refused.cause).toBe(wrongSecret);
    const away = tokenRequestError(new Error('connect ECONNREFUSED 127.0.0.1:443'), 'https://graph.microsoft.com/.default');
    expect(away).toMatchObject({ kind: 'transient', code: 'TokenEndpointUnavailable', stage: 'token' });
    expect(away.httpStatus).toBeUndefined();
  });
});
