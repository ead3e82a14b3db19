import { odata } from '@azure/data-tables';
import { z } from 'zod';
import { mapWithConcurrency, type RejectedItem, type SubmittedValues } from '../core';
import { BATCH_META_ROW, isRefusal, type TableLayout } from '../storage';

/**
 * The rows a batch's submissions rejected, kept so that the batch's results account for every row
 * submitted; they are never records and never queued. Packed into chunk rows in the batch's
 * partition (RowKey `r|<submission key>-<chunk>`), a few hundred per row. The submission key names
 * the submission (a hash of a request's body, a roster's row range), so a retried submission
 * rewrites its own rows instead of adding them again, without reading the batch first. The batch
 * row says whether there are any (`hasRejected`), so a batch without is never queried for them.
 */

// A Table string property holds at most 32K UTF-16 characters; stay well below.
const MAX_CHUNK_CHARACTERS = 30_000;
const PARALLEL_WRITES = 8;

// A rejection's path and message are cut to this: a path can repeat a caller's property name.
const MAX_REASON_CHARACTERS = 500;
const MAX_REASONS = 20;

// What a row held (SubmittedValues), packed as [email, displayName, raw]; absent in rows kept before it was.
const packedSubmittedSchema = z.tuple([z.string().nullable(), z.string().nullable(), z.string().nullable()]);
const packedRejectedSchema = z.array(
  z.union([
    z.tuple([z.number().int(), z.number().int().nullable(), z.array(z.tuple([z.string(), z.string()])), packedSubmittedSchema]),
    z.tuple([z.number().int(), z.number().int().nullable(), z.array(z.tuple([z.string(), z.string()]))]),
  ]),
);
const chunkEntitySchema = z.object({ rowKey: z.string(), submittedAt: z.string(), rejected: z.string() });

export class RejectedRows {
  constructor(private readonly layout: TableLayout) {}

  /** Keeps a submission's rejected rows in its batch; the same submission key rewrites the same rows. */
  async add(batchId: string, submissionKey: string, rejected: readonly RejectedItem[], submittedAt: string): Promise<void> {
    if (rejected.length === 0) return;
    try {
      await this.write(batchId, submissionKey, rejected, submittedAt, { withValues: true });
    } catch (error) {
      if (!isRefusal(error)) throw error;
      // What made storage refuse a row's record may be in what the row held: the rows are kept
      // with their reasons alone rather than not at all.
      await this.write(batchId, submissionKey, rejected, submittedAt, { withValues: false });
    }
  }

  private async write(
    batchId: string,
    submissionKey: string,
    rejected: readonly RejectedItem[],
    submittedAt: string,
    { withValues }: { withValues: boolean },
  ): Promise<void> {
    const packed = packIntoChunks(
      rejected.map((item) => [
        item.index,
        item.line ?? null,
        reasonsOf(item).map((error) => [error.path.slice(0, MAX_REASON_CHARACTERS), error.message.slice(0, MAX_REASON_CHARACTERS)]),
        ...(withValues && item.submitted
          ? [[item.submitted.email ?? null, item.submitted.displayName ?? null, item.submitted.raw ?? null]]
          : []),
      ]),
    );
    const batchRows = this.layout.batchRows(batchId);
    await mapWithConcurrency(packed, PARALLEL_WRITES, (chunk, position) =>
      batchRows.upsert(`r|${submissionKey}-${String(position).padStart(5, '0')}`, { submittedAt, rejected: chunk }, 'Replace'),
    );
    await batchRows.upsert(BATCH_META_ROW, { hasRejected: true }, 'Merge');
  }

  /** The batch's rejected rows, in submission order. */
  async read(batchId: string): Promise<RejectedItem[]> {
    const chunks: { submittedAt: string; rowKey: string; rejected: RejectedItem[] }[] = [];
    const filter = odata`RowKey ge ${'r|'} and RowKey lt ${'r|~'}`;
    for await (const entity of this.layout.batchRows(batchId).list(filter, { select: ['RowKey', 'submittedAt', 'rejected'] })) {
      const { rowKey, submittedAt, rejected } = chunkEntitySchema.parse(entity);
      chunks.push({
        rowKey,
        submittedAt,
        rejected: packedRejectedSchema.parse(JSON.parse(rejected)).map(([index, line, errors, submitted]) => ({
          index,
          ...(line !== null ? { line } : {}),
          errors: errors.map(([path, message]) => ({ path, message })),
          ...(submitted ? { submitted: submittedOf(submitted) } : {}),
        })),
      });
    }
    chunks.sort((a, b) => a.submittedAt.localeCompare(b.submittedAt) || a.rowKey.localeCompare(b.rowKey));
    return chunks.flatMap((chunk) => chunk.rejected);
  }
}

function submittedOf([email, displayName, raw]: z.infer<typeof packedSubmittedSchema>): SubmittedValues {
  return { ...(email !== null ? { email } : {}), ...(displayName !== null ? { displayName } : {}), ...(raw !== null ? { raw } : {}) };
}

/** A row's reasons, at most MAX_REASONS of them (a row of 200 unknown properties has 200), so that any row fits in a chunk. */
function reasonsOf(item: RejectedItem): RejectedItem['errors'] {
  if (item.errors.length <= MAX_REASONS) return item.errors;
  return [...item.errors.slice(0, MAX_REASONS - 1), { path: '(row)', message: `and ${item.errors.length - MAX_REASONS + 1} more reasons` }];
}

/** JSON arrays of the packed entries, each within MAX_CHUNK_CHARACTERS. */
function packIntoChunks(entries: readonly unknown[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let length = 2;
  for (const entry of entries) {
    const packed = JSON.stringify(entry);
    if (current.length > 0 && length + packed.length + 1 > MAX_CHUNK_CHARACTERS) {
      chunks.push(`[${current.join(',')}]`);
      current = [];
      length = 2;
    }
    current.push(packed);
    length += packed.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(',')}]`);
  return chunks;
}
