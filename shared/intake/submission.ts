import { z } from 'zod';
import { BulkInviteCsvError, parseBulkInviteCsv } from './bulkInviteCsv';
import { canonicalizePropertyNames } from './canonicalPropertyNames';
import { InvalidRequest, invitationSchema, submittedValuesOf, type AcceptedItem, type ItemError, type RejectedItem } from '../core';

/**
 * Turns a POST /api/invitations body (JSON or the portal's CSV) into validated invitations and
 * per-item rejections. Whole-request problems (malformed, too large, wrong media type) throw a
 * InvalidRequest (with its reason); a bad item only rejects that item.
 */

export const MAX_ITEMS_PER_SUBMISSION = 1_000;
/** 1,000 invitations with long custom messages fit; anything larger is not a batch we can answer fast. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export const batchIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1 to 64 letters, digits, "-" or "_"');

export interface Submission {
  batchId?: string;
  accepted: AcceptedItem[];
  rejected: RejectedItem[];
}

export interface RawItem {
  index: number;
  line?: number;
  /** Prefix of every error path: `invitations[3].` for a batch, '' for a single object or a CSV row. */
  pathPrefix: string;
  value: unknown;
  /** For CSV: the row as the file had it, kept with the row if it is rejected. */
  raw?: string;
}

export function parseSubmission(contentType: string | undefined, body: Uint8Array): Submission {
  if (body.byteLength > MAX_BODY_BYTES) {
    throw new InvalidRequest(`The body is ${body.byteLength} bytes; at most ${MAX_BODY_BYTES} bytes are accepted.`, 'too-large');
  }
  const mediaType = parseMediaType(contentType);
  const text = decodeUtf8(body);
  const { batchId, items } = mediaType === 'text/csv' ? readCsv(text) : readJson(text);
  if (items.length > MAX_ITEMS_PER_SUBMISSION) {
    throw new InvalidRequest(
      `The submission has ${items.length} invitations; at most ${MAX_ITEMS_PER_SUBMISSION} are accepted per request (split it, keeping one batchId).`,
      'too-large',
    );
  }
  return { ...(batchId ? { batchId } : {}), ...validateItems(items) };
}

/** Validates each item on its own: the valid ones are accepted, the others rejected with their errors. */
export function validateItems(items: readonly RawItem[]): Pick<Submission, 'accepted' | 'rejected'> {
  const accepted: AcceptedItem[] = [];
  const rejected: RejectedItem[] = [];
  for (const item of items) {
    const value = canonicalizePropertyNames(item.value, invitationSchema);
    const parsed = invitationSchema.safeParse(value);
    const position = { index: item.index, ...(item.line ? { line: item.line } : {}) };
    if (parsed.success)
      accepted.push({ ...position, pathPrefix: item.pathPrefix, invitation: parsed.data, ...(item.raw ? { raw: item.raw } : {}) });
    else {
      const submitted = submittedValuesOf(value, item.raw);
      rejected.push({ ...position, errors: describeIssues(parsed.error, item.pathPrefix), ...(submitted ? { submitted } : {}) });
    }
  }
  return { accepted, rejected };
}

function parseMediaType(contentType: string | undefined): 'application/json' | 'text/csv' {
  const [essence = '', ...parameters] = (contentType ?? '').split(';').map((part) => part.trim().toLowerCase());
  const charset = parameters
    .find((parameter) => parameter.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new InvalidRequest(`Only UTF-8 is accepted; the request says charset=${charset}.`, 'unsupported-type');
  }
  if (essence === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(essence)) return 'application/json';
  if (essence === 'text/csv') return 'text/csv';
  throw new InvalidRequest(
    `Content-Type "${contentType ?? '(none)'}" is not accepted: send application/json or text/csv (the Entra bulk invite file).`,
    'unsupported-type',
  );
}

function decodeUtf8(body: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new InvalidRequest('The body is not valid UTF-8.', 'malformed');
  }
}

function readJson(text: string): { batchId?: string; items: RawItem[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidRequest(`The body is not valid JSON: ${(error as Error).message}.`, 'malformed');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidRequest('The body must be one invitation object or {"invitations": [...], "batchId"?: "..."}.');
  }
  const envelopeKey = Object.keys(value).find((key) => key.toLowerCase() === 'invitations');
  if (!envelopeKey) return { items: [{ index: 0, pathPrefix: '', value }] };

  const envelope = value as Record<string, unknown>;
  const unknownKeys = Object.keys(envelope).filter(
    (key) => !['invitations', 'batchid'].includes(key.toLowerCase()) && !key.startsWith('@odata.'),
  );
  if (unknownKeys.length > 0) {
    throw new InvalidRequest(`Unknown property "${unknownKeys[0]}" beside "invitations": only "batchId" may accompany it.`);
  }
  const invitations = envelope[envelopeKey];
  if (!Array.isArray(invitations)) throw new InvalidRequest('"invitations" must be an array of invitation objects.');
  const batchIdKey = Object.keys(envelope).find((key) => key.toLowerCase() === 'batchid');
  let batchId: string | undefined;
  if (batchIdKey) {
    const parsed = batchIdSchema.safeParse(envelope[batchIdKey]);
    if (!parsed.success) throw new InvalidRequest(`"batchId" ${parsed.error.issues[0]?.message ?? 'is invalid'}.`);
    batchId = parsed.data;
  }
  const items = invitations.map((item, index) => ({ index, pathPrefix: `invitations[${index}].`, value: item }));
  return { ...(batchId ? { batchId } : {}), items };
}

function readCsv(text: string): { batchId?: string; items: RawItem[] } {
  try {
    return {
      items: parseBulkInviteCsv(text).map((row, index) => ({ index, line: row.line, pathPrefix: '', value: row.invitation, raw: row.raw })),
    };
  } catch (error) {
    if (error instanceof BulkInviteCsvError) throw new InvalidRequest(error.message, 'malformed');
    throw error;
  }
}

/** Zod issues as `{path, message}` with the full path (`invitations[3].invitedUserEmailAddress`). */
export function describeIssues(error: z.ZodError, pathPrefix = ''): ItemError[] {
  return error.issues.flatMap((issue) => {
    const path = formatPath(pathPrefix, issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        path: formatPath(pathPrefix, [...issue.path, key]),
        message: 'is not a property of an invitation',
      }));
    }
    return [{ path, message: issue.message }];
  });
}

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let formatted = prefix.replace(/\.$/, '');
  for (const segment of path) {
    formatted += typeof segment === 'number' ? `[${segment}]` : `${formatted === '' ? '' : '.'}${String(segment)}`;
  }
  return formatted === '' ? '(body)' : formatted;
}
