import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { mapWithConcurrency } from '../concurrency';
import type { RejectedItem } from '../intake/submission';

/**
 * Which people a submission named, for GET /api/batches/{batchId}. Items are packed into chunk
 * rows (PartitionKey `b|<batchId>`, RowKey `<submission key>-<chunk>`), a few hundred per row: a
 * 1,000-person batch costs a handful of entity writes instead of a thousand, which keeps the
 * intake close to raw queue speed. The submission key names the submission (a hash of a request's
 * body, a roster's row range), so a retried submission rewrites its own rows instead of adding
 * them again, without reading the batch first. Statuses are not kept here: a listing reads each
 * person's record, so it is never stale. A submission's rejected rows are kept beside its people
 * (RowKey `<submission key>-r<chunk>`), so that a batch's results account for every row submitted;
 * they are never records and never queued.
 */

export interface BatchItem {
  recordId: string;
  /** The item's position in the submission that named it. */
  index: number;
  email: string;
  /** Answered as a duplicate (nothing queued for it by this submission). */
  duplicate: boolean;
}

// A Table string property holds at most 32K UTF-16 characters; stay well below.
const MAX_CHUNK_CHARACTERS = 30_000;
const PARALLEL_WRITES = 8;

// A rejection's path and message are cut to this: a path can repeat a caller's property name.
const MAX_REASON_CHARACTERS = 500;
const MAX_REASONS = 20;

const packedItemsSchema = z.array(z.tuple([z.string(), z.number().int(), z.string(), z.union([z.literal(0), z.literal(1)])]));
const packedRejectedSchema = z.array(z.tuple([z.number().int(), z.number().int().nullable(), z.array(z.tuple([z.string(), z.string()]))]));
const chunkEntitySchema = z.object({
  rowKey: z.string(),
  submittedAt: z.string(),
  items: z.string().optional(),
  rejected: z.string().optional(),
});

const batchPartition = (batchId: string) => `b|${batchId}`;

export class BatchMembership {
  constructor(private readonly table: TableClient) {}

  /**
   * Records a submission's people, and the rows it rejected, in its batch; the same submission key
   * rewrites the same rows.
   */
  async add(batchId: string, items: readonly BatchItem[], submissionKey: string, rejected: readonly RejectedItem[] = []): Promise<void> {
    const submittedAt = new Date().toISOString();
    const rows = [
      ...packIntoChunks(items.map((item) => [item.recordId, item.index, item.email, item.duplicate ? 1 : 0])).map((packed, chunk) => ({
        rowKey: `${submissionKey}-${String(chunk).padStart(5, '0')}`,
        items: packed,
      })),
      ...packIntoChunks(
        rejected.map((item) => [
          item.index,
          item.line ?? null,
          reasonsOf(item).map((error) => [error.path.slice(0, MAX_REASON_CHARACTERS), error.message.slice(0, MAX_REASON_CHARACTERS)]),
        ]),
      ).map((packed, chunk) => ({ rowKey: `${submissionKey}-r${String(chunk).padStart(5, '0')}`, rejected: packed })),
    ];
    await mapWithConcurrency(rows, PARALLEL_WRITES, (row) =>
      this.table.upsertEntity({ partitionKey: batchPartition(batchId), submittedAt, ...row }, 'Replace'),
    );
  }

  /**
   * The batch's people and the rows its submissions rejected, each in submission order; a person
   * named by two submissions appears twice.
   */
  async read(batchId: string): Promise<{ items: BatchItem[]; rejected: RejectedItem[] }> {
    const chunks: { submittedAt: string; rowKey: string; items: BatchItem[]; rejected: RejectedItem[] }[] = [];
    for await (const chunk of this.chunks(batchId)) chunks.push(chunk);
    chunks.sort((a, b) => a.submittedAt.localeCompare(b.submittedAt) || a.rowKey.localeCompare(b.rowKey));
    return { items: chunks.flatMap((chunk) => chunk.items), rejected: chunks.flatMap((chunk) => chunk.rejected) };
  }

  private async *chunks(
    batchId: string,
  ): AsyncGenerator<{ rowKey: string; submittedAt: string; items: BatchItem[]; rejected: RejectedItem[] }> {
    const filter = odata`PartitionKey eq ${batchPartition(batchId)}`;
    for await (const entity of this.table.listEntities({
      queryOptions: { filter, select: ['RowKey', 'submittedAt', 'items', 'rejected'] },
    })) {
      const { rowKey, submittedAt, items, rejected } = chunkEntitySchema.parse(entity);
      yield {
        rowKey,
        submittedAt,
        items: items
          ? packedItemsSchema
              .parse(JSON.parse(items))
              .map(([recordId, index, email, duplicate]) => ({ recordId, index, email, duplicate: duplicate === 1 }))
          : [],
        rejected: rejected
          ? packedRejectedSchema.parse(JSON.parse(rejected)).map(([index, line, errors]) => ({
              index,
              ...(line !== null ? { line } : {}),
              errors: errors.map(([path, message]) => ({ path, message })),
            }))
          : [],
      };
    }
  }
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
