import { odata, RestError, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { batchPartition } from './batchLedger';

/**
 * Which batches exist, newest first, for GET /api/batches. Each batch has a row of its own in its
 * partition (RowKey `meta`: source and creation time, written once by its first submission) and a
 * listing row in the `batches` partition, keyed by inverted creation time so that a range query
 * reads the newest first. Every submission writes both idempotently (the listing key follows from
 * the meta row), so a crash between the two is repaired by the batch's next submission, and a batch
 * whose meta row exists but whose listing row was lost is still found by id.
 */

export const batchSourceSchema = z.object({
  /** `api`: POST /api/invitations; `cli`: `npx entra-invite submit`; `roster`: a roster dropped in blob storage. */
  kind: z.enum(['api', 'cli', 'roster']),
  /** The roster's blob name, for a roster. */
  roster: z.string().optional(),
});
export type BatchSource = z.infer<typeof batchSourceSchema>;

/** The header by which `npx entra-invite` names itself, so that its batches are listed as the CLI's. */
export const CLIENT_HEADER = 'x-entra-invite-client';

/** A submission's source from its CLIENT_HEADER: `cli` when it says so, `api` for anything else. */
export function sourceFromClientHeader(value: string | null): BatchSource {
  return value === 'cli' ? { kind: 'cli' } : { kind: 'api' };
}

export interface BatchEntry {
  batchId: string;
  source: BatchSource;
  createdAt: string;
}

const LISTING_PARTITION = 'batches';
const META_ROW = 'meta';
// Inverted milliseconds: ascending row keys are the newest batches first (until the year 2286).
const invertedTime = (iso: string) => String(9_999_999_999_999 - Date.parse(iso)).padStart(13, '0');

const metaSchema = z.object({ createdAt: z.string(), source: z.string() });
const listingSchema = z.object({ rowKey: z.string(), batchId: z.string(), createdAt: z.string(), source: z.string() });

export class BatchIndex {
  constructor(private readonly table: TableClient) {}

  /** Registers the batch (once: its first submission's source and time stay), and its listing row. */
  async open(batchId: string, source: BatchSource, createdAt: string): Promise<void> {
    let meta = { createdAt, source: JSON.stringify(source) };
    try {
      await this.table.createEntity({ partitionKey: batchPartition(batchId), rowKey: META_ROW, ...meta });
    } catch (error) {
      if (!(error instanceof RestError && error.statusCode === 409)) throw error;
      meta = metaSchema.parse(await this.table.getEntity(batchPartition(batchId), META_ROW));
    }
    await this.table.upsertEntity(
      { partitionKey: LISTING_PARTITION, rowKey: `${invertedTime(meta.createdAt)}|${batchId}`, batchId, ...meta },
      'Replace',
    );
  }

  async get(batchId: string): Promise<BatchEntry | undefined> {
    try {
      const meta = metaSchema.parse(await this.table.getEntity(batchPartition(batchId), META_ROW));
      return { batchId, createdAt: meta.createdAt, source: batchSourceSchema.parse(JSON.parse(meta.source)) };
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
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
