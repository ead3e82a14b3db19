/**
 * Problem details (RFC 9457): what every 4xx answers with, naming what is wrong. The domain throws
 * a RequestProblem; the HTTP layer turns it into an `application/problem+json` response.
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
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }

  toProblemDetails(): ProblemDetails {
    return { type: `${PROBLEM_TYPE_BASE}${this.code}`, title: this.title, status: this.status, detail: this.detail, ...this.extensions };
  }
}

export const problems = {
  malformedBody: (detail: string) => new RequestProblem(400, 'malformed-body', 'The request body could not be read', detail),
  invalidRequest: (detail: string, extensions?: Record<string, unknown>) =>
    new RequestProblem(400, 'invalid-request', 'The request is invalid', detail, extensions),
  bodyTooLarge: (detail: string) => new RequestProblem(413, 'body-too-large', 'The request is too large', detail),
  unsupportedMediaType: (detail: string) => new RequestProblem(415, 'unsupported-media-type', 'The Content-Type is not supported', detail),
  unauthorized: (detail: string) => new RequestProblem(401, 'invalid-signature', 'The request is not signed correctly', detail),
  notFound: (detail: string) => new RequestProblem(404, 'not-found', 'Not found', detail),
  conflict: (detail: string) => new RequestProblem(409, 'conflict', 'The request conflicts with one in progress', detail),
  idempotencyKeyReused: (detail: string) =>
    new RequestProblem(422, 'idempotency-key-reused', 'The Idempotency-Key was used for another request', detail),
};
