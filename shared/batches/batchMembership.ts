import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { mapWithConcurrency } from '../concurrency';

/**
 * Which people a submission named, for GET /api/batches/{batchId}. Items are packed into chunk
 * rows (PartitionKey `b|<batchId>`, RowKey `<submission key>-<chunk>`), a few hundred per row: a
 * 1,000-person batch costs a handful of entity writes instead of a thousand, which keeps the
 * intake close to raw queue speed. The submission key names the submission (a hash of a request's
 * body, a roster's row range), so a retried submission rewrites its own rows instead of adding
 * them again, without reading the batch first. Statuses are not kept here: a listing reads each
 * person's record, so it is never stale.
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

const packedItemsSchema = z.array(z.tuple([z.string(), z.number().int(), z.string(), z.union([z.literal(0), z.literal(1)])]));
const chunkEntitySchema = z.object({ rowKey: z.string(), submittedAt: z.string(), items: z.string() });

const batchPartition = (batchId: string) => `b|${batchId}`;

export class BatchMembership {
  constructor(private readonly table: TableClient) {}

  /** Records a submission's people in its batch; the same submission key rewrites the same rows. */
  async add(batchId: string, items: readonly BatchItem[], submissionKey: string): Promise<void> {
    const submittedAt = new Date().toISOString();
    const chunks = packIntoChunks(items);
    await mapWithConcurrency(chunks, PARALLEL_WRITES, (packed, chunk) =>
      this.table.upsertEntity(
        { partitionKey: batchPartition(batchId), rowKey: `${submissionKey}-${String(chunk).padStart(5, '0')}`, submittedAt, items: packed },
        'Replace',
      ),
    );
  }

  /** Every item of the batch in submission order; a person named by two submissions appears twice. */
  async all(batchId: string): Promise<BatchItem[]> {
    const chunks: { submittedAt: string; rowKey: string; items: BatchItem[] }[] = [];
    for await (const chunk of this.chunks(batchId)) chunks.push(chunk);
    chunks.sort((a, b) => a.submittedAt.localeCompare(b.submittedAt) || a.rowKey.localeCompare(b.rowKey));
    return chunks.flatMap((chunk) => chunk.items);
  }

  private async *chunks(batchId: string): AsyncGenerator<{ rowKey: string; submittedAt: string; items: BatchItem[] }> {
    const filter = odata`PartitionKey eq ${batchPartition(batchId)}`;
    for await (const entity of this.table.listEntities({ queryOptions: { filter, select: ['RowKey', 'submittedAt', 'items'] } })) {
      const { rowKey, submittedAt, items } = chunkEntitySchema.parse(entity);
      const unpacked = packedItemsSchema
        .parse(JSON.parse(items))
        .map(([recordId, index, email, duplicate]) => ({ recordId, index, email, duplicate: duplicate === 1 }));
      yield { rowKey, submittedAt, items: unpacked };
    }
  }
}

function packIntoChunks(items: readonly BatchItem[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let length = 2;
  for (const item of items) {
    const packed = JSON.stringify([item.recordId, item.index, item.email, item.duplicate ? 1 : 0]);
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
