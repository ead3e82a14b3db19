import { z } from 'zod';

/**
 * A failed Graph call, classified for the worker:
 * - throttled (429): wait for Retry-After; never a reason to give up or burn a dequeue;
 * - transient (503, 504, other 5xx, network): back off and retry;
 * - unauthorized (401): one fresh token, then permanent;
 * - permanent (400, 403, 404, other 4xx): the same request would fail again — one call only.
 */
export type GraphFailureKind = 'throttled' | 'transient' | 'unauthorized' | 'permanent';

export class GraphCallError extends Error {
  override readonly name = 'GraphCallError';
  constructor(
    readonly kind: GraphFailureKind,
    readonly code: string,
    message: string,
    readonly httpStatus?: number,
    readonly graphRequestId?: string,
    /** From Retry-After (seconds, fractional allowed), in ms. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
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

export function failureKindOf(httpStatus: number): GraphFailureKind {
  if (httpStatus === 429) return 'throttled';
  if (httpStatus === 401) return 'unauthorized';
  if (httpStatus >= 500) return 'transient';
  return 'permanent';
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
  let body: z.infer<typeof graphErrorBodySchema> | undefined;
  try {
    const parsed = graphErrorBodySchema.safeParse(JSON.parse(text));
    body = parsed.success ? parsed.data : undefined;
  } catch {
    body = undefined;
  }
  const requestId =
    response.headers.get('request-id') ?? body?.error.innerError?.['request-id'] ?? body?.error.innererror?.['request-id'] ?? undefined;
  return new GraphCallError(
    failureKindOf(response.status),
    body?.error.code ?? `Http${response.status}`,
    body?.error.message ?? (response.statusText || `Graph answered ${response.status}`),
    response.status,
    requestId,
    parseRetryAfterMs(response.headers.get('retry-after')),
  );
}
