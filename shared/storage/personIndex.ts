import { createHash } from 'node:crypto';
import { odata, type TransactionAction } from '@azure/data-tables';
import { mapWithConcurrency, recordIdForEmail } from '../core';
import { isConflict } from './errors';
import type { PartitionRows, TableLayout } from './tableLayout';

/**
 * Finding a person by what HR knows them by, with one point read each, when their email is not the
 * one their record was made for (a mover's changed address: invitationStore.ts `changeEmail`):
 * - the externalId key: in the record partition of `h` (32 hex digits of the SHA-256 of the
 *   externalId), RowKey `k|<h>`: the record id of the person with that externalId, last written wins;
 * - an email alias: exactly the row a record of the new address would be (its partition, RowKey
 *   the address's record id), holding `aliasOf`: the person's record. Reading that id finds the
 *   person (readRecord follows it), and no second record of the address can be created beside it:
 *   its create meets the alias (409) and is decided against the person.
 * The key is written after the record (a crash between loses only the key: that person's next
 * change of email is then a new person, as before the key existed); an alias before the record's change.
 */

const PARALLEL_CALLS = 16;
// Table storage allows at most 15 comparisons in a filter: the partition's, and 14 row keys.
const KEYS_PER_QUERY = 14;
const MAX_TRANSACTION_ACTIONS = 100;

export function externalIdKey(externalId: string): string {
  return createHash('sha256').update(`externalId\n${externalId}`, 'utf8').digest('hex').slice(0, 32);
}

const keyRowKey = (key: string) => `k|${key}`;

export class PersonIndex {
  constructor(private readonly layout: TableLayout) {}

  /**
   * The record id each externalId's key names (none for an externalId the app has not keyed). Read
   * as queries of up to 14 keys of one partition each (Table storage allows 15 comparisons in a
   * filter, the partition's being one): a 1,000-row submission costs about 80 queries, not 1,000 reads.
   */
  async recordIdsOf(externalIds: readonly string[]): Promise<Map<string, string>> {
    const byPartition = new Map<string, { rows: PartitionRows; keys: string[] }>();
    for (const externalId of new Set(externalIds)) {
      const key = externalIdKey(externalId);
      const rows = this.layout.recordRows(key);
      const partition = byPartition.get(rows.partitionKey) ?? { rows, keys: [] };
      partition.keys.push(key);
      byPartition.set(rows.partitionKey, partition);
    }
    const queries = [...byPartition.values()].flatMap(({ rows, keys }) =>
      Array.from({ length: Math.ceil(keys.length / KEYS_PER_QUERY) }, (_, n) => ({
        rows,
        keys: keys.slice(n * KEYS_PER_QUERY, (n + 1) * KEYS_PER_QUERY),
      })),
    );
    const found = await mapWithConcurrency(queries, PARALLEL_CALLS, async ({ rows, keys }) => {
      const filter = `(${keys.map((key) => odata`RowKey eq ${keyRowKey(key)}`).join(' or ')})`;
      const pairs: [string, string][] = [];
      for await (const row of rows.list<{ recordId: string; externalId: string }>(filter, { select: ['recordId', 'externalId'] }))
        pairs.push([row.externalId, row.recordId]);
      return pairs;
    });
    const wanted = new Set(externalIds);
    // A key names its externalId: one that hashes alike but is another is never taken for it.
    return new Map(found.flat().filter(([externalId]) => wanted.has(externalId)));
  }

  /** Keys each externalId to its record, in one transaction per partition (of at most 100 rows). */
  async remember(pairs: readonly { externalId: string; recordId: string }[]): Promise<void> {
    const byPartition = new Map<string, { rows: PartitionRows; actions: TransactionAction[] }>();
    for (const { externalId, recordId } of new Map(pairs.map((pair) => [pair.externalId, pair])).values()) {
      const key = externalIdKey(externalId);
      const rows = this.layout.recordRows(key);
      const partition = byPartition.get(rows.partitionKey) ?? { rows, actions: [] };
      partition.actions.push(['upsert', { ...rows.key(keyRowKey(key)), recordId, externalId }, 'Replace']);
      byPartition.set(rows.partitionKey, partition);
    }
    await mapWithConcurrency([...byPartition.values()], PARALLEL_CALLS, async ({ rows, actions }) => {
      for (let start = 0; start < actions.length; start += MAX_TRANSACTION_ACTIONS)
        await rows.transact(actions.slice(start, start + MAX_TRANSACTION_ACTIONS));
    });
  }

  /**
   * The new address of the person `recordId` names: `added` (or there already, from an earlier
   * try), or `taken` when the address is already someone's (its own record, or another's alias).
   */
  async addAlias(normalizedEmail: string, recordId: string): Promise<'added' | 'taken'> {
    const aliasId = recordIdForEmail(normalizedEmail);
    const rows = this.layout.recordRows(aliasId);
    try {
      await rows.create(aliasId, { aliasOf: recordId });
      return 'added';
    } catch (error) {
      if (!isConflict(error)) throw error;
      const existing = await rows.find<{ aliasOf?: string }>(aliasId);
      return existing?.aliasOf === recordId ? 'added' : 'taken';
    }
  }
}
