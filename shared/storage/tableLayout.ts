import { odata, type TableClient, type TableEntityResult, type TransactionAction, type UpdateMode } from '@azure/data-tables';
import { isConflict, isNotFound } from './errors';

/**
 * The one Table's layout. All state is in one Azure Table; each kind of row has its own partition
 * (or, for records and batches, a family of partitions of their own), so a query never mixes
 * kinds. Every module is handed the rows of its kind (a PartitionRows), never the table itself,
 * and TABLE_LAYOUT says which row is whose: docs/architecture.md shows it, and
 * test/storage/tableLayout.unit.test.ts keeps the two the same.
 */

/** The kinds of row that live in one fixed partition each, and the partition's name. */
const FIXED_PARTITIONS = {
  batchListing: 'batches',
  idempotency: 'idem',
  resends: 'resends',
  mailbox: 'mailbox',
  rateShares: 'pacer',
  pause: 'pause',
  health: 'health',
  roster: 'roster',
  lifecycle: 'lifecycle',
} as const;
export type FixedRowKind = keyof typeof FIXED_PARTITIONS;

/** A person's record, and the index rows kept in its transaction, are spread over 16 partitions by the id's first hex digit. */
export const RECORD_PARTITION_DIGITS = '0123456789abcdef'.split('');
export const recordPartition = (id: string) => `r${id[0]}`;
/** A batch's rows (its meta row, its pages of people, its rejected rows) share one partition. */
export const batchPartition = (batchId: string) => `b|${batchId}`;
/** The batch's own row in its partition; each writer merges only its own columns into it. */
export const BATCH_META_ROW = 'meta';

export interface RowKindLayout {
  partitionKey: string;
  rowKey: string;
  what: string;
  writtenBy: string;
}

export const TABLE_LAYOUT: readonly RowKindLayout[] = [
  {
    partitionKey: '`r0` … `rf` (first hex digit of the id)',
    rowKey: '`<id>`',
    what: "a person's record",
    writtenBy: '`storage/invitationStore.ts`',
  },
  {
    partitionKey: 'same as the record',
    rowKey: '`x\\|<externalId>\\|<id>`',
    what: "the externalId index, in the record's transaction",
    writtenBy: '`storage/invitationStore.ts`',
  },
  {
    partitionKey: 'same as the record',
    rowKey: '`o\\|<event id>`',
    what: "the event of a record's change, in the change's own transaction, until it is queued (the outbox)",
    writtenBy: '`storage/invitationStore.ts`, relayed by `lifecycle/eventOutbox.ts`',
  },
  {
    partitionKey: '`r<first hex digit of the key>`',
    rowKey: '`k\\|<32 hex digits of the SHA-256 of the externalId>`',
    what: "the externalId key: one point read finds the person's record id (a mover's changed email)",
    writtenBy: '`storage/personIndex.ts`',
  },
  {
    partitionKey: 'as a record of the new address',
    rowKey: "`<the new address's id>`",
    what: 'an email alias (`aliasOf`): a person whose email changed is found by the new address, and no second record of it is made',
    writtenBy: '`storage/personIndex.ts`',
  },
  {
    partitionKey: '`b\\|<batchId>`',
    rowKey: '`meta`',
    what: 'the batch row: counts per status (`n<status>`), places handed out (`people`), source and time (`source`, `createdAt`), `hasRejected`; each writer merges its own columns',
    writtenBy: '`batches/batchLedger.ts`, `batchIndex.ts`, `rejectedRows.ts`',
  },
  {
    partitionKey: '`b\\|<batchId>`',
    rowKey: '`g\\|<n>`',
    what: "a page of 100 people: each one's place, count and a copy of the record",
    writtenBy: '`batches/batchLedger.ts`',
  },
  {
    partitionKey: '`b\\|<batchId>`',
    rowKey: '`r\\|<submission>-<n>`',
    what: 'rejected rows of a submission',
    writtenBy: '`batches/rejectedRows.ts`',
  },
  {
    partitionKey: '`batches`',
    rowKey: '`<inverted time>\\|<batchId>`',
    what: 'the list of batches, newest first',
    writtenBy: '`batches/batchIndex.ts`',
  },
  {
    partitionKey: '`idem`',
    rowKey: 'the SHA-256 of the Idempotency-Key',
    what: "a submission's answer, for its repeats",
    writtenBy: '`intake/idempotencyStore.ts`',
  },
  {
    partitionKey: '`resends`',
    rowKey: '`<caller hash>\\|<day>`',
    what: "a caller's resends of the day",
    writtenBy: '`storage/callerResendBudget.ts`',
  },
  {
    partitionKey: '`mailbox`',
    rowKey: '`<mailbox hash>\\|minute`, `\\|day`',
    what: "the sending mailbox's budget",
    writtenBy: '`mail/mailboxBudget.ts`',
  },
  {
    partitionKey: '`pacer`',
    rowKey: 'an instance id',
    what: "an instance's busy flag: its share of the write budget",
    writtenBy: '`graph/rateShares.ts`',
  },
  { partitionKey: '`pause`', rowKey: '`tenant`, `operator`', what: 'a pause of all sending', writtenBy: '`graph/sendingPause.ts`' },
  { partitionKey: '`health`', rowKey: 'an instance id', what: 'what the instance last reported', writtenBy: '`healthBoard.ts`' },
  {
    partitionKey: '`roster`',
    rowKey: "a roster's name, percent-encoded (hashed when too long)",
    what: "a roster's progress",
    writtenBy: '`rosters/rosterProgress.ts`',
  },
  {
    partitionKey: '`lifecycle`',
    rowKey: '`expiry-policy`',
    what: 'the expiry policy the timer last ran under',
    writtenBy: '`lifecycle/expiryPolicyMemory.ts`',
  },
];

/** The fixed partitions' names, for the test that checks TABLE_LAYOUT names each of them. */
export const FIXED_PARTITION_NAMES: readonly string[] = Object.values(FIXED_PARTITIONS);

/** What a row holds besides its keys. */
export type RowFields = object;

/** The rows of one partition: every read and write of them names only the row key. */
export class PartitionRows {
  constructor(
    private readonly table: TableClient,
    readonly partitionKey: string,
  ) {}

  key(rowKey: string): { partitionKey: string; rowKey: string } {
    return { partitionKey: this.partitionKey, rowKey };
  }

  get<T extends object>(rowKey: string): Promise<TableEntityResult<T>> {
    return this.table.getEntity<T>(this.partitionKey, rowKey);
  }

  /** The row, or undefined when there is none. */
  async find<T extends object>(rowKey: string): Promise<TableEntityResult<T> | undefined> {
    try {
      return await this.get<T>(rowKey);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async create(rowKey: string, fields: RowFields): Promise<string> {
    return (await this.table.createEntity({ ...fields, ...this.key(rowKey) })).etag ?? '';
  }

  async upsert(rowKey: string, fields: RowFields, mode: UpdateMode): Promise<string> {
    return (await this.table.upsertEntity({ ...fields, ...this.key(rowKey) }, mode)).etag ?? '';
  }

  /** Writes the row only if it is still the version `etag` names (none: whatever is there). */
  async update(rowKey: string, fields: RowFields, mode: UpdateMode, etag?: string): Promise<string> {
    return (await this.table.updateEntity({ ...fields, ...this.key(rowKey) }, mode, etag ? { etag } : {})).etag ?? '';
  }

  async delete(rowKey: string): Promise<void> {
    await this.table.deleteEntity(this.partitionKey, rowKey);
  }

  /** The partition's rows, or those `filter` (OData, without the partition) selects. */
  list<T extends object>(filter?: string, options: { select?: string[] } = {}) {
    const partition = odata`PartitionKey eq ${this.partitionKey}`;
    return this.table.listEntities<T>({ queryOptions: { filter: filter ? `${partition} and ${filter}` : partition, ...options } });
  }

  /** One entity-group transaction: every action's entity must be in this partition. The written rows' ETags, by row key. */
  async transact(actions: TransactionAction[]): Promise<Map<string, string>> {
    const stray = actions.find(([, entity]) => entity.partitionKey !== this.partitionKey);
    if (stray) throw new Error(`A transaction of partition ${this.partitionKey} holds a row of ${stray[1].partitionKey}.`);
    if (actions.length === 0) return new Map();
    const response = await this.table.submitTransaction(actions);
    return new Map(response.subResponses.flatMap((sub) => (sub.rowKey && sub.etag ? [[sub.rowKey, sub.etag] as const] : [])));
  }
}

/** The table's layout, handing each module the rows of its kind. */
export class TableLayout {
  /**
   * @param client the table itself: for tooling only (tests, benchmarks, the local host), which
   * wrap or count its calls; no module of shared/ imports TableClient (eslint.config.mjs).
   */
  constructor(readonly client: TableClient) {}

  async ensureTable(): Promise<void> {
    try {
      await this.client.createTable();
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }

  rows(kind: FixedRowKind): PartitionRows {
    return new PartitionRows(this.client, FIXED_PARTITIONS[kind]);
  }

  /** The partition of the record `id`, with its index rows. */
  recordRows(id: string): PartitionRows {
    return new PartitionRows(this.client, recordPartition(id));
  }

  /** The 16 record partitions, for the sweeps that read them all. */
  allRecordRows(): PartitionRows[] {
    return RECORD_PARTITION_DIGITS.map((digit) => new PartitionRows(this.client, `r${digit}`));
  }

  batchRows(batchId: string): PartitionRows {
    return new PartitionRows(this.client, batchPartition(batchId));
  }
}
