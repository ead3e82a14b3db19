import { odata } from '@azure/data-tables';
import { z } from 'zod';
import { batchSourceSchema, type BatchSource } from './batchSource';
import { BATCH_META_ROW, isConflict, isNotFound, isPreconditionFailed, type TableLayout } from '../storage';

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

// Inverted milliseconds: ascending row keys are the newest batches first (until the year 2286).
const invertedTime = (iso: string) => String(9_999_999_999_999 - Date.parse(iso)).padStart(13, '0');

const registrationSchema = z.object({ etag: z.string(), createdAt: z.string().optional(), source: z.string().optional() });
const listingSchema = z.object({ rowKey: z.string(), batchId: z.string(), createdAt: z.string(), source: z.string() });

export class BatchIndex {
  constructor(private readonly layout: TableLayout) {}

  /** Registers the batch (once: its first submission's source and time stay), and its listing row. */
  async open(batchId: string, source: BatchSource, createdAt: string): Promise<void> {
    const wanted = { createdAt, source: JSON.stringify(source) };
    const batchRows = this.layout.batchRows(batchId);
    let registered = wanted;
    for (;;) {
      try {
        await batchRows.create(BATCH_META_ROW, wanted);
        break;
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      // The batch row exists: registered already, or made by the ledger (a worker, the counts) first.
      const row = registrationSchema.parse(await batchRows.get(BATCH_META_ROW));
      if (row.createdAt && row.source) {
        registered = { createdAt: row.createdAt, source: row.source };
        break;
      }
      try {
        await batchRows.update(BATCH_META_ROW, wanted, 'Merge', row.etag);
        break;
      } catch (error) {
        if (!(isNotFound(error) || isPreconditionFailed(error))) throw error;
      }
    }
    await this.layout
      .rows('batchListing')
      .upsert(`${invertedTime(registered.createdAt)}|${batchId}`, { batchId, ...registered }, 'Replace');
  }

  /** Up to `pageSize` batches, newest first, after the listing key `after` (from the previous page). */
  async list({ pageSize, after }: { pageSize: number; after?: string }): Promise<{ batches: BatchEntry[]; after?: string }> {
    const listing = this.layout.rows('batchListing').list(after ? odata`RowKey gt ${after}` : undefined);
    const batches: BatchEntry[] = [];
    let last: string | undefined;
    for await (const page of listing.byPage({ maxPageSize: pageSize + 1 })) {
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
