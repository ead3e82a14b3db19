import { odata, RestError, type TableClient, type TransactionAction } from '@azure/data-tables';
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { mapWithConcurrency } from '../concurrency';
import { INVITATION_STATUSES, withoutRedeemUrl, type InvitationRecord, type ListedInvitationRecord } from '../invitationRecord';

/**
 * A batch's people and their counts, readable in a few calls whatever the batch's size. In the
 * batch's partition (`b|<batchId>`), beside its rejected rows (rejectedRows.ts):
 * - a person row per person (RowKey `p|<record id>`): where the batch named them and a copy of
 *   their record as of the last change. A page of people is one range query.
 * - 16 counter shards (RowKey `c|00`…`c|15`): per status, how many person rows are counted as it.
 *   The counts are one range query of 16 small rows.
 *
 * Every change of a person row and its shard's counts is one entity-group transaction, the row
 * under its ETag: the counts equal the tally of the rows at every moment, so they never go
 * negative and never count a person twice, whatever crashes. The rows follow the records: every
 * write of a record is followed by `sync`, which reads the row, then the record, and makes the row
 * the record's copy. A crash between the two writes leaves a row behind its record until the
 * next sync of that person: the worker's next step, the message's redelivery, or the stranded
 * sweep's reconciliation of batches that still count people in flight (strandedInvitationSweeper.ts).
 *
 * A batch counts the people it queued (the record's batchId). A person it named while another
 * batch had them in hand is counted as `Duplicate`; a person later queued by another batch stays
 * counted here as this batch left them.
 */

export const COUNT_KEYS = [...INVITATION_STATUSES, 'Duplicate'] as const;
export type CountKey = (typeof COUNT_KEYS)[number];
export type BatchCounts = Record<CountKey, number>;
/** A row whose attempt was withdrawn (the intake could not queue it): kept, counted as nothing, listed nowhere. */
const WITHDRAWN = 'Withdrawn';
type CountedAs = CountKey | typeof WITHDRAWN;

const SHARDS = 16;
const PARALLEL_WRITES = 8;
/** Entity-group transactions take 100 actions: 99 people and their shard. */
const PEOPLE_PER_TRANSACTION = 99;
/** A copied error message is cut to this, so that any record's copy fits a Table property (32K characters). */
const MAX_COPIED_MESSAGE = 2_000;

export const batchPartition = (batchId: string) => `b|${batchId}`;
const personRowKey = (recordId: string) => `p|${recordId}`;
const shardRowKey = (shard: number) => `c|${String(shard).padStart(2, '0')}`;
const PEOPLE_END = 'p|~';

const personRowSchema = z.object({
  etag: z.string(),
  rowKey: z.string(),
  countedAs: z.enum([...COUNT_KEYS, WITHDRAWN]),
  /** The person's position in the submission that named them (absent when a worker wrote the row first). */
  index: z.number().int().optional(),
  submittedAt: z.string(),
  queuedAt: z.string(),
  record: z.string(),
});
type PersonRow = z.infer<typeof personRowSchema>;

export interface BatchPerson {
  record: ListedInvitationRecord;
  index?: number;
  submittedAt: string;
  /** Named while another batch had the person in hand: nothing was queued for them here. */
  duplicate: boolean;
}

/** A person a submission named, with their record as the intake left it. */
export interface NamedPerson {
  record: InvitationRecord;
  index: number;
  /** Whether this batch queued them (or had already); false for a duplicate of another batch's person. */
  queuedHere: boolean;
}

export interface PeoplePage {
  people: BatchPerson[];
  /** The last row key of this page, when more rows follow. */
  after?: string;
}

export class BatchLedger {
  constructor(
    private readonly table: TableClient,
    private readonly readRecord: (id: string) => Promise<InvitationRecord | undefined>,
  ) {}

  /**
   * The intake's rows for a submission's people, in transactions of 99; a transaction that meets
   * an existing row (a retried submission, a worker that was quicker) is done person by person.
   */
  async addPeople(batchId: string, people: readonly NamedPerson[], submittedAt: string): Promise<void> {
    const groups: NamedPerson[][] = [];
    for (let start = 0; start < people.length; start += PEOPLE_PER_TRANSACTION)
      groups.push(people.slice(start, start + PEOPLE_PER_TRANSACTION));
    await mapWithConcurrency(groups, PARALLEL_WRITES, async (group, position) => {
      const rows = group.map((person) =>
        rowFor(person.record, person.queuedHere ? person.record.status : 'Duplicate', person.index, submittedAt),
      );
      const delta = new Map<CountKey, number>();
      for (const row of rows) delta.set(row.countedAs as CountKey, (delta.get(row.countedAs as CountKey) ?? 0) + 1);
      // Each group its own shard, so that the intake's transactions do not contend with each other.
      const written = await this.writeWithShard(
        batchId,
        rows.map((row, i) => ['create', { partitionKey: batchPartition(batchId), rowKey: personRowKey(group[i]!.record.id), ...row }]),
        delta,
        position % SHARDS,
      );
      if (written) return;
      for (const person of group) {
        const placement = { index: person.index, submittedAt };
        if (person.queuedHere) await this.sync(batchId, person.record.id, placement);
        else await this.addDuplicate(batchId, person, submittedAt);
      }
    });
  }

  /** Makes the person's row in `batchId` follow their record (see the module comment); true when it had to change. */
  async sync(batchId: string, recordId: string, placement?: { index: number; submittedAt: string }): Promise<boolean> {
    for (;;) {
      const row = await this.readRow(batchId, recordId);
      const record = await this.readRecord(recordId);
      const next = nextRow(batchId, row, record, placement);
      if (!next) return false;
      const rowAction: TransactionAction = row
        ? ['update', { partitionKey: batchPartition(batchId), rowKey: row.rowKey, ...next }, 'Replace', { etag: row.etag }]
        : ['create', { partitionKey: batchPartition(batchId), rowKey: personRowKey(recordId), ...next }];
      const delta = new Map<CountKey, number>();
      if (row && row.countedAs !== WITHDRAWN) delta.set(row.countedAs, -1);
      if (next.countedAs !== WITHDRAWN) delta.set(next.countedAs, (delta.get(next.countedAs) ?? 0) + 1);
      if (await this.writeWithShard(batchId, [rowAction], delta, randomInt(SHARDS))) return true;
    }
  }

  async counts(batchId: string): Promise<BatchCounts> {
    const counts = Object.fromEntries(COUNT_KEYS.map((key) => [key, 0])) as BatchCounts;
    const filter = odata`PartitionKey eq ${batchPartition(batchId)} and RowKey ge ${'c|'} and RowKey lt ${'c|~'}`;
    for await (const shard of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      for (const key of COUNT_KEYS) counts[key] += typeof shard[key] === 'number' ? shard[key] : 0;
    }
    return counts;
  }

  /** Up to `pageSize` people after the row key `after`, in row-key order; with `countedAs`, only those. */
  async page(
    batchId: string,
    { pageSize, after, countedAs }: { pageSize: number; after?: string; countedAs?: CountKey },
  ): Promise<PeoplePage> {
    const people: BatchPerson[] = [];
    let last: string | undefined;
    for await (const row of this.rows(batchId, after, countedAs, pageSize + 1)) {
      if (people.length === pageSize) return { people, ...(last ? { after: last } : {}) };
      people.push(personOf(row));
      last = row.rowKey;
    }
    return { people };
  }

  /** Every person of the batch, in the order they were submitted. */
  async all(batchId: string): Promise<BatchPerson[]> {
    const people: BatchPerson[] = [];
    for await (const row of this.rows(batchId)) people.push(personOf(row));
    return people.sort((a, b) => a.submittedAt.localeCompare(b.submittedAt) || (a.index ?? 0) - (b.index ?? 0));
  }

  /** The record ids of the people counted as `countedAs` (the sweep reconciles those in flight). */
  async recordIdsCountedAs(batchId: string, countedAs: CountKey): Promise<string[]> {
    const ids: string[] = [];
    for await (const row of this.rows(batchId, undefined, countedAs)) ids.push(row.rowKey.slice(2));
    return ids;
  }

  /** The batch's person rows from the row key `after`, asking the service for `readAhead` at a time. */
  private async *rows(batchId: string, after?: string, countedAs?: CountKey, readAhead = 1_000): AsyncGenerator<PersonRow> {
    const range = after
      ? odata`PartitionKey eq ${batchPartition(batchId)} and RowKey gt ${after} and RowKey lt ${PEOPLE_END}`
      : odata`PartitionKey eq ${batchPartition(batchId)} and RowKey ge ${'p|'} and RowKey lt ${PEOPLE_END}`;
    const filter = countedAs ? `${range} and ${odata`countedAs eq ${countedAs}`}` : `${range} and ${odata`countedAs ne ${WITHDRAWN}`}`;
    for await (const page of this.table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: readAhead })) {
      for (const entity of page) yield personRowSchema.parse(entity);
    }
  }

  /** A person another batch has in hand: a row counted as Duplicate, unless the batch already has one. */
  private async addDuplicate(batchId: string, person: NamedPerson, submittedAt: string): Promise<void> {
    for (;;) {
      if (await this.readRow(batchId, person.record.id)) return;
      const row = rowFor(person.record, 'Duplicate', person.index, submittedAt);
      const action: TransactionAction = [
        'create',
        { partitionKey: batchPartition(batchId), rowKey: personRowKey(person.record.id), ...row },
      ];
      if (await this.writeWithShard(batchId, [action], new Map([['Duplicate', 1]]), randomInt(SHARDS))) return;
    }
  }

  private async readRow(batchId: string, recordId: string): Promise<PersonRow | undefined> {
    try {
      return personRowSchema.parse(await this.table.getEntity(batchPartition(batchId), personRowKey(recordId)));
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }

  /**
   * Commits the row actions with `delta` added to one shard's counts, in one transaction. False when
   * a row or the shard changed since it was read (409, 412, 404): the caller reads again.
   */
  private async writeWithShard(
    batchId: string,
    rowActions: TransactionAction[],
    delta: Map<CountKey, number>,
    shard: number,
  ): Promise<boolean> {
    const changes = [...delta].filter(([, change]) => change !== 0);
    const actions = [...rowActions];
    if (changes.length > 0) {
      const key = { partitionKey: batchPartition(batchId), rowKey: shardRowKey(shard) };
      const current = await this.table.getEntity<Record<string, unknown>>(key.partitionKey, key.rowKey).catch((error: unknown) => {
        if (error instanceof RestError && error.statusCode === 404) return undefined;
        throw error;
      });
      const counts = Object.fromEntries(
        changes.map(([name, change]) => [name, (typeof current?.[name] === 'number' ? current[name] : 0) + change]),
      );
      actions.push(current ? ['update', { ...key, ...counts }, 'Merge', { etag: current.etag }] : ['create', { ...key, ...counts }]);
    }
    try {
      await this.table.submitTransaction(actions);
      return true;
    } catch (error) {
      if (error instanceof RestError && [404, 409, 412].includes(error.statusCode ?? 0)) return false;
      throw error;
    }
  }
}

/** The row the record calls for in this batch, or undefined when the row is right as it is. */
function nextRow(
  batchId: string,
  row: PersonRow | undefined,
  record: InvitationRecord | undefined,
  placement: { index: number; submittedAt: string } | undefined,
): Omit<PersonRow, 'etag' | 'rowKey'> | undefined {
  if (record && record.batchId === batchId) {
    const next = rowFor(
      record,
      record.status,
      row?.index ?? placement?.index,
      row?.submittedAt ?? placement?.submittedAt ?? record.queuedAt,
    );
    const same = row && row.countedAs === next.countedAs && row.index === next.index && row.record === next.record;
    return same ? undefined : next;
  }
  // The row's attempt was withdrawn (the record is gone, or back to an earlier attempt): it counts no more.
  if (row && row.countedAs !== 'Duplicate' && row.countedAs !== WITHDRAWN && (!record || record.queuedAt < row.queuedAt)) {
    return { ...row, countedAs: WITHDRAWN };
  }
  // Nothing here, a duplicate, or a person since queued by another batch: this batch keeps what it had.
  return undefined;
}

function rowFor(record: InvitationRecord, countedAs: CountedAs, index: number | undefined, submittedAt: string) {
  const listed = withoutRedeemUrl(record);
  const copy = listed.error
    ? { ...listed, error: { ...listed.error, message: listed.error.message.slice(0, MAX_COPIED_MESSAGE) } }
    : listed;
  return { countedAs, ...(index !== undefined ? { index } : {}), submittedAt, queuedAt: record.queuedAt, record: JSON.stringify(copy) };
}

function personOf(row: PersonRow): BatchPerson {
  return {
    record: JSON.parse(row.record) as ListedInvitationRecord,
    ...(row.index !== undefined ? { index: row.index } : {}),
    submittedAt: row.submittedAt,
    duplicate: row.countedAs === 'Duplicate',
  };
}
