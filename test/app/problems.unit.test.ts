import { describe, expect, it } from 'vitest';
import { problemFor, problems } from '../../functions/runtime/problems';
import { BadSignature, Conflict, InvalidRequest, NotAllowed, NotFound, Unavailable } from '../../shared/core';

/** The one place the domain's failures become HTTP (functions/runtime/problems.ts): each has its status and type. */
describe('problems for the domain’s failures', () => {
  it.each([
    [new InvalidRequest('bad'), 400, 'invalid-request'],
    [new InvalidRequest('unreadable', 'malformed'), 400, 'malformed-body'],
    [new InvalidRequest('big', 'too-large'), 413, 'body-too-large'],
    [new InvalidRequest('xml', 'unsupported-type'), 415, 'unsupported-media-type'],
    [new NotFound('No invitation x.'), 404, 'not-found'],
    [new BadSignature('expired'), 401, 'invalid-signature'],
    [new NotAllowed('INVITE_ALLOW_LEAVERS is off'), 403, 'not-allowed'],
    [new Conflict('is Failed'), 409, 'conflict'],
    [new Conflict('still running', 'in-progress'), 409, 'conflict'],
    [new Conflict('other body', 'key-reused'), 422, 'idempotency-key-reused'],
    [new Conflict('grant User.Read.All', 'guest-unreadable'), 409, 'guest-unreadable'],
    [new Unavailable('down', 'storage'), 503, 'storage-unavailable'],
    [new Unavailable('down', 'queue'), 503, 'queue-unavailable'],
    [new Unavailable('throttled', 'guest-read'), 503, 'guest-unreadable'],
  ])('%s → %i %s, with its message as the detail', (failure, status, code) => {
    const details = problemFor(failure)!.toProblemDetails();
    expect(details).toEqual({
      type: `https://github.com/entra-invite-pipeline/problems/${code}`,
      title: expect.any(String),
      status,
      detail: failure.message,
    });
  });

  it('passes the edge’s own problems through, and names nothing else (a 500 of ours)', () => {
    const own = problems.invalidRequest('?email or ?externalId');
    expect(problemFor(own)).toBe(own);
    for (const other of [new Error('boom'), new TypeError('x'), 'text', undefined]) expect(problemFor(other)).toBeUndefined();
  });
});
