import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { batchPartition, META_ROW } from './batchLedger';
import { batchSourceSchema, type BatchSource } from './batchSource';
import { isConflict, isNotFound, isPreconditionFailed } from '../storage';

/**
 * Which batches exist, newest first, for GET /api/batches. A batch's source and creation time are
 * kept on its batch row (batchLedger.ts keeps the counts there), written once by its first
 * submission; a listing row in the `batches` partition, keyed by inverted creation time, lets a
 * range query read the newest first. Every submission writes both idempotently (the listing key
 * follows from the batch row), so a crash between the two is repaired by the batch's next
 * submission.
 */

export interface BatchEntry {
  batchId: string;
  source: BatchSource;
  createdAt: string;
}

const LISTING_PARTITION = 'batches';
// Inverted milliseconds: ascending row keys are the newest batches first (until the year 2286).
const invertedTime = (iso: string) => String(9_999_999_999_999 - Date.parse(iso)).padStart(13, '0');

const registrationSchema = z.object({ etag: z.string(), createdAt: z.string().optional(), source: z.string().optional() });
const listingSchema = z.object({ rowKey: z.string(), batchId: z.string(), createdAt: z.string(), source: z.string() });

export class BatchIndex {
  constructor(private readonly table: TableClient) {}

  /** Registers the batch (once: its first submission's source and time stay), and its listing row. */
  async open(batchId: string, source: BatchSource, createdAt: string): Promise<void> {
    const wanted = { createdAt, source: JSON.stringify(source) };
    const key = { partitionKey: batchPartition(batchId), rowKey: META_ROW };
    let registered = wanted;
    for (;;) {
      try {
        await this.table.createEntity({ ...key, ...wanted });
        break;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      // The batch row exists: registered already, or made by the ledger (a worker, the counts) first.
      const row = registrationSchema.parse(await this.table.getEntity(key.partitionKey, key.rowKey));
      if (row.createdAt && row.source) {
        registered = { createdAt: row.createdAt, source: row.source };
        break;
      }
      try {
        await this.table.updateEntity({ ...key, ...wanted }, 'Merge', { etag: row.etag });
        break;
      } catch (error) {
        if (!(isNotFound(error) || isPreconditionFailed(error))) throw error;
      }
    }
    await this.table.upsertEntity(
      { partitionKey: LISTING_PARTITION, rowKey: `${invertedTime(registered.createdAt)}|${batchId}`, batchId, ...registered },
      'Replace',
    );
  }

  /** Up to `pageSize` batches, newest first, after the listing key `after` (from the previous page). */
  async list({ pageSize, after }: { pageSize: number; after?: string }): Promise<{ batches: BatchEntry[]; after?: string }> {
    const filter = after ? odata`PartitionKey eq ${LISTING_PARTITION} and RowKey gt ${after}` : odata`PartitionKey eq ${LISTING_PARTITION}`;
    const batches: BatchEntry[] = [];
    let last: string | undefined;
    for await (const page of this.table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: pageSize + 1 })) {
      for (const entity of page) {
        if (batches.length === pageSize) return { batches, after: last! };
        const row = listingSchema.parse(entity);
        batches.push({ batchId: row.batchId, createdAt: row.createdAt, source: batchSourceSchema.parse(JSON.parse(row.source)) });
        last = row.rowKey;
      }
    }
    return { batches };
  }
}
