import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { z } from 'zod';
import { problems, type RequestProblem } from './problems';
import { describeIssues, MAX_BODY_BYTES } from '../../shared/intake';

/** HTTP ↔ domain translation shared by the HTTP functions. */

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } };
}

export function problemResponse(problem: RequestProblem): HttpResponseInit {
  return {
    status: problem.status,
    body: JSON.stringify(problem.toProblemDetails()),
    headers: { 'content-type': 'application/problem+json; charset=utf-8' },
  };
}

/**
 * A CSV file answer: `?format=csv`, or `Accept: text/csv` when no format is named; undefined
 * when JSON was asked for.
 */
export function csvResponseIfAsked(
  request: HttpRequest,
  format: 'json' | 'csv' | undefined,
  fileName: string,
  csv: () => Promise<string> | string,
): Promise<HttpResponseInit> | undefined {
  const wanted = format === 'csv' || (format === undefined && (request.headers.get('accept') ?? '').includes('text/csv'));
  if (!wanted) return undefined;
  return Promise.resolve(csv()).then((body) => ({
    status: 200,
    body,
    headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${fileName}"` },
  }));
}

/** The base of the URLs we hand out (`https://<app>.azurewebsites.net`), from the request itself. */
export function requestOrigin(request: HttpRequest): string {
  return new URL(request.url).origin;
}

/**
 * Reads the raw body (the HMAC covers the bytes as sent), refusing more than MAX_BODY_BYTES
 * without buffering it all: a declared Content-Length is checked first, then the running total.
 */
export async function readRawBody(request: HttpRequest): Promise<Uint8Array> {
  const tooLarge = () => problems.bodyTooLarge(`The body is larger than the ${MAX_BODY_BYTES} bytes accepted.`);
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** `value` as `schema` reads it, or the 400 problem naming the first thing wrong with it. */
export function parseOrProblem<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const [first] = describeIssues(parsed.error);
  throw problems.invalidRequest(`${first?.path} ${first?.message}.`);
}

// What a web page may POST to another site without asking first (a CORS "simple request"): a form's
// encodings, plain text, or no body at all. Fetch's CORS protocol: https://fetch.spec.whatwg.org/#cors-safelisted-request-header
const SIMPLE_REQUEST_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain', '']);

/**
 * Every POST changes state (submits, redrives, runs the lifecycle, resets a redemption): it must
 * declare a Content-Type a cross-site page cannot send without a CORS preflight, which no route
 * grants. Otherwise a page the operator visits could POST to the local host (which checks no keys),
 * or to Azure with a key in its URL (CSRF).
 */
export function refuseSimpleCrossSitePost(request: HttpRequest): void {
  if (request.method !== 'POST') return;
  const essence = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (SIMPLE_REQUEST_TYPES.has(essence))
    throw problems.unsupportedMediaType(
      `A POST needs Content-Type: application/json${essence === '' ? '' : ` (got ${essence})`}, even without a body: a web page on another site cannot send that header without asking first.`,
    );
}
