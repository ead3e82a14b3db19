import { createHash } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { z } from 'zod';
import { MAX_KEY_CHARACTERS } from '../core';
import { isNotFound, type PartitionRows } from '../storage';

/**
 * How far a roster has come, kept in the Invitations table (PartitionKey `roster`) rather than on
 * the blob: changing a blob's metadata changes its ETag, and the ETag names the roster's batch.
 * - recording: rows up to `rowsDone` are recorded (a run that stopped resumes after them);
 * - recorded:  every row is recorded and the file moved to processed/; results are awaited;
 * - completed: results/<name>-results.csv is written;
 * - planned:   a dry run (metadata dryRun=true): results/<name>-plan.csv is written, nothing recorded;
 * - stopped:   a synced roster the leavers' guard stopped (rosterSync.ts): nothing recorded, it waits for its metadata to change.
 */

export const rosterProgressSchema = z.object({
  name: z.string(),
  /** The roster version this progress is about (named apart from the entity's own `etag`). */
  blobEtag: z.string(),
  batchId: z.string(),
  status: z.enum(['recording', 'recorded', 'completed', 'planned', 'stopped']),
  rowsDone: z.number().int().nonnegative(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type RosterProgress = z.infer<typeof rosterProgressSchema>;

// A blob name may be 1,024 characters, far more once encoded than a RowKey holds: long ones are hashed.
const rowKey = (name: string) => {
  const encoded = encodeURIComponent(name);
  // '%h' never occurs in percent-encoding (always '%' and two hex digits), so a hashed key cannot meet an encoded one.
  return encoded.length <= MAX_KEY_CHARACTERS ? encoded : `%h${createHash('sha256').update(name).digest('hex')}`;
};

export class RosterProgressStore {
  /** @param rows the `roster` rows (storage/tableLayout.ts) */
  constructor(private readonly rows: PartitionRows) {}

  async get(name: string): Promise<RosterProgress | undefined> {
    const row = await this.rows.find(rowKey(name));
    return row && rosterProgressSchema.parse(row);
  }

  async save(progress: RosterProgress): Promise<void> {
    await this.rows.upsert(rowKey(progress.name), { ...progress, updatedAt: new Date().toISOString() }, 'Replace');
  }

  async delete(name: string): Promise<void> {
    await this.rows.delete(rowKey(name)).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
  }

  async *awaitingResults(): AsyncGenerator<RosterProgress> {
    const rows = this.rows.list(odata`status eq ${'recorded'}`);
    for await (const row of rows) yield rosterProgressSchema.parse(row);
  }
}
