import { BadSignature, Conflict, InvalidRequest, NotAllowed, NotFound, Unavailable } from '../../shared/core';

/**
 * Problem details (RFC 9457): what every 4xx (and our 503s) answer with, naming what is wrong.
 * The domain throws its own failures (shared/core/failures.ts); this is the one place that says
 * them in HTTP. The edge's own checks (a key, a role, a Content-Type) throw a RequestProblem directly.
 */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const PROBLEM_TYPE_BASE = 'https://github.com/entra-invite-pipeline/problems/';

export class RequestProblem extends Error {
  override readonly name = 'RequestProblem';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(detail, options);
  }

  toProblemDetails(): ProblemDetails {
    return { type: `${PROBLEM_TYPE_BASE}${this.code}`, title: this.title, status: this.status, detail: this.detail };
  }
}

export const problems = {
  malformedBody: (detail: string) => new RequestProblem(400, 'malformed-body', 'The request body could not be read', detail),
  invalidRequest: (detail: string) => new RequestProblem(400, 'invalid-request', 'The request is invalid', detail),
  bodyTooLarge: (detail: string) => new RequestProblem(413, 'body-too-large', 'The request is too large', detail),
  unsupportedMediaType: (detail: string) => new RequestProblem(415, 'unsupported-media-type', 'The Content-Type is not supported', detail),
  notFound: (detail: string) => new RequestProblem(404, 'not-found', 'Not found', detail),
  internal: () => new RequestProblem(500, 'internal-error', 'Internal error', 'The request failed on our side; it is safe to retry.'),
};

const INVALID = {
  invalid: problems.invalidRequest,
  malformed: problems.malformedBody,
  'too-large': problems.bodyTooLarge,
  'unsupported-type': problems.unsupportedMediaType,
} as const;

const CONFLICT = {
  state: [409, 'conflict', 'The request conflicts with the current state'],
  'in-progress': [409, 'conflict', 'The request conflicts with one in progress'],
  'key-reused': [422, 'idempotency-key-reused', 'The Idempotency-Key was used for another request'],
  'guest-unreadable': [409, 'guest-unreadable', 'The guest could not be read'],
} as const;

const UNAVAILABLE = {
  storage: ['storage-unavailable', 'Storage is unavailable'],
  queue: ['queue-unavailable', 'The invitation queue is unavailable'],
  'guest-read': ['guest-unreadable', 'The guest could not be read'],
} as const;

/** The problem a failure is for the caller; undefined for anything the domain did not name (a 500). */
export function problemFor(error: unknown): RequestProblem | undefined {
  if (error instanceof RequestProblem) return error;
  if (error instanceof InvalidRequest) return INVALID[error.reason](error.message);
  if (error instanceof NotFound) return problems.notFound(error.message);
  if (error instanceof NotAllowed) return new RequestProblem(403, 'not-allowed', 'The operator has not allowed this', error.message);
  if (error instanceof BadSignature)
    return new RequestProblem(401, 'invalid-signature', 'The request is not signed correctly', error.message);
  if (error instanceof Conflict) {
    const [status, code, title] = CONFLICT[error.reason];
    return new RequestProblem(status, code, title, error.message, { cause: error });
  }
  if (error instanceof Unavailable) {
    const [code, title] = UNAVAILABLE[error.dependency];
    return new RequestProblem(503, code, title, error.message, { cause: error });
  }
  return undefined;
}
