import { odata, RestError, type TableClient, type TransactionAction } from '@azure/data-tables';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { mapWithConcurrency } from '../concurrency';
import { INVITATION_STATUSES, withoutRedeemUrl, type InvitationRecord, type ListedInvitationRecord } from '../invitationRecord';
import { batchSourceSchema, type BatchSource } from './batchSource';

/**
 * A batch's people and their counts, readable in two point reads whatever the batch's size. In the
 * batch's partition (`b|<batchId>`):
 * - the batch row (RowKey `meta`): the counts per status, and how many people the batch has named
 *   (each person's position, in the order the batch first named them); batchIndex.ts keeps its
 *   source and creation time there too;
 * - a person row per person (RowKey `p|<record id>`): their position and how they are counted
 *   (what `?status=` pages and the sweep query);
 * - page rows (RowKey `g|<n>`): a copy of each person's record as of its last change, 100 people
 *   per row by position, in properties `s00`…`s99`. A page of 100 people is one point read.
 *
 * A person row, its copy in the page row and the counts change together in one entity-group
 * transaction, under the person row's and the batch row's ETags: the counts are the tally of the
 * person rows at every moment, so they never go negative and never count a person twice. The rows
 * follow the records: every write of a record is followed by `sync`, which reads the person row,
 * then the record, and makes the row the record's copy. A crash between the two writes leaves a row
 * behind its record until the next sync of that person: the worker's next step, the message's
 * redelivery, or the stranded sweep's reconciliation (strandedInvitationSweeper.ts).
 *
 * A batch counts the people it queued (the record's batchId). A person it named while another batch
 * had them in hand is counted as `Duplicate`; a person later queued by another batch stays counted
 * here as this batch left them.
 */

export const COUNT_KEYS = [...INVITATION_STATUSES, 'Duplicate'] as const;
export type CountKey = (typeof COUNT_KEYS)[number];
export type BatchCounts = Record<CountKey, number>;
/** A row whose attempt was withdrawn (the intake could not queue it): kept, counted as nothing, listed nowhere. */
const WITHDRAWN = 'Withdrawn';
type CountedAs = CountKey | typeof WITHDRAWN;

export const META_ROW = 'meta';
const PEOPLE_PER_PAGE_ROW = 100;
const PARALLEL_READS = 16;
/** An entity-group transaction takes 100 actions: people, the (at most two) page rows they fall in, and the batch row. */
const PEOPLE_PER_TRANSACTION = 97;
/** A copied error message is cut to this, so that a page row of 100 copies stays far below an entity's 1 MiB. */
const MAX_COPIED_MESSAGE = 2_000;

export const batchPartition = (batchId: string) => `b|${batchId}`;
const personRowKey = (recordId: string) => `p|${recordId}`;
const pageRowKey = (pageRow: number) => `g|${String(pageRow).padStart(6, '0')}`;
const slotName = (position: number) => `s${String(position % PEOPLE_PER_PAGE_ROW).padStart(2, '0')}`;
const countColumn = (key: CountKey) => `n${key}`;
const PEOPLE_END = 'p|~';

const countedAsSchema = z.enum([...COUNT_KEYS, WITHDRAWN]);
const personRowSchema = z.object({
  etag: z.string(),
  rowKey: z.string(),
  position: z.number().int().nonnegative(),
  countedAs: countedAsSchema,
  /** The person's place in the submission that first named them (absent when a worker wrote the row first). */
  index: z.number().int().optional(),
  submittedAt: z.string(),
  queuedAt: z.string(),
  /** A hash of the copy in the page row: whether a sync has anything to change. */
  copyHash: z.string(),
});
type PersonRow = z.infer<typeof personRowSchema>;
/** What a page row holds for a person: how they are counted, where the batch named them, and the copy of their record. */
interface PersonState {
  countedAs: CountedAs;
  index?: number;
  submittedAt: string;
  queuedAt: string;
  record: string;
}

const metaRowSchema = z
  .object({
    etag: z.string(),
    people: z.number().int().optional(),
    hasRejected: z.boolean().optional(),
    createdAt: z.string().optional(),
    source: z.string().optional(),
  })
  .catchall(z.unknown());
type MetaRow = z.infer<typeof metaRowSchema>;

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

export interface BatchSummary {
  counts: BatchCounts;
  /** People the batch has named, withdrawn ones included: positions run from 0 to this. */
  people: number;
  /** Whether any submission had rejected rows (rejectedRows.ts): only then are they read. */
  hasRejected: boolean;
  source?: BatchSource;
  createdAt?: string;
}

export class BatchLedger {
  constructor(
    private readonly table: TableClient,
    private readonly readRecord: (id: string) => Promise<InvitationRecord | undefined>,
  ) {}

  /**
   * The intake's rows for a submission's people, 97 to a transaction; a transaction that meets an
   * existing person row (a retried submission, a worker that was quicker) is done person by person.
   */
  async addPeople(batchId: string, people: readonly NamedPerson[], submittedAt: string): Promise<void> {
    for (let start = 0; start < people.length; start += PEOPLE_PER_TRANSACTION) {
      const group = people.slice(start, start + PEOPLE_PER_TRANSACTION);
      for (;;) {
        const meta = await this.readMeta(batchId);
        const first = meta?.people ?? 0;
        const rows = group.map((person, i) => ({
          recordId: person.record.id,
          position: first + i,
          state: stateOf(person.record, person.queuedHere ? person.record.status : 'Duplicate', person.index, submittedAt),
        }));
        const outcome = await this.commit(batchId, rows, [], meta, rows.length);
        if (outcome === 'done') break;
        if (outcome === 'batch changed') continue;
        for (const person of group) {
          if (person.queuedHere) await this.sync(batchId, person.record.id, { index: person.index, submittedAt });
          else await this.addDuplicate(batchId, person, submittedAt);
        }
        break;
      }
    }
  }

  /** Makes the person's row in `batchId` follow their record (see the module comment); true when it had to change. */
  async sync(batchId: string, recordId: string, placement?: { index: number; submittedAt: string }): Promise<boolean> {
    for (;;) {
      const person = await this.readPerson(batchId, recordId);
      const record = await this.readRecord(recordId);
      const next = nextState(batchId, person, record, placement);
      if (!next) return false;
      // The batch row changes only with the counts or a new position; a new copy alone needs only the person's ETag.
      const meta = !person || person.countedAs !== next.countedAs ? await this.readMeta(batchId) : undefined;
      const position = person?.position ?? meta?.people ?? 0;
      const outcome = await this.commit(
        batchId,
        person ? [] : [{ recordId, position, state: next }],
        person ? [{ person, state: next }] : [],
        meta,
        person ? 0 : 1,
      );
      if (outcome === 'done') return true;
    }
  }

  /** The batch row: counts, people named, and what batchIndex.ts keeps there. */
  async summary(batchId: string): Promise<BatchSummary | undefined> {
    const meta = await this.readMeta(batchId);
    if (!meta) return undefined;
    const source = meta.source ? batchSourceSchema.safeParse(JSON.parse(meta.source)) : undefined;
    return {
      counts: Object.fromEntries(COUNT_KEYS.map((key) => [key, numberIn(meta, countColumn(key))])) as BatchCounts,
      people: meta.people ?? 0,
      hasRejected: meta.hasRejected ?? false,
      ...(source?.success ? { source: source.data } : {}),
      ...(meta.createdAt ? { createdAt: meta.createdAt } : {}),
    };
  }

  /** The counts alone (all zero for a batch with no row yet). */
  async counts(batchId: string): Promise<BatchCounts> {
    return (await this.summary(batchId))?.counts ?? (Object.fromEntries(COUNT_KEYS.map((key) => [key, 0])) as BatchCounts);
  }

  /** The people at positions [offset, offset + count), in the order the batch named them: a point read per 100. */
  async peopleAt(batchId: string, offset: number, count: number): Promise<BatchPerson[]> {
    const rows: number[] = [];
    for (let row = Math.floor(offset / PEOPLE_PER_PAGE_ROW); row * PEOPLE_PER_PAGE_ROW < offset + count; row += 1) rows.push(row);
    const pageRows = await Promise.all(rows.map((row) => this.readEntity(batchPartition(batchId), pageRowKey(row))));
    const people: BatchPerson[] = [];
    for (let position = offset; position < offset + count; position += 1) {
      const slot = pageRows[Math.floor(position / PEOPLE_PER_PAGE_ROW) - rows[0]!]?.[slotName(position)];
      if (typeof slot !== 'string') continue;
      const state = JSON.parse(slot) as PersonState;
      if (state.countedAs !== WITHDRAWN) people.push(personOf(state));
    }
    return people;
  }

  /** Up to `pageSize` people counted as `countedAs`, after the person row key `after`: a filtered range query. */
  async peopleCountedAs(batchId: string, countedAs: CountKey, { pageSize, after }: { pageSize: number; after?: string }) {
    const rows: PersonRow[] = [];
    let more = false;
    for await (const row of this.personRows(batchId, countedAs, after, pageSize + 1)) {
      if (rows.length === pageSize) {
        more = true;
        break;
      }
      rows.push(row);
    }
    const pageRows = [...new Set(rows.map((row) => Math.floor(row.position / PEOPLE_PER_PAGE_ROW)))];
    const read = new Map(
      await mapWithConcurrency(
        pageRows,
        PARALLEL_READS,
        async (row) => [row, await this.readEntity(batchPartition(batchId), pageRowKey(row))] as const,
      ),
    );
    const people = rows.flatMap((row) => {
      const slot = read.get(Math.floor(row.position / PEOPLE_PER_PAGE_ROW))?.[slotName(row.position)];
      return typeof slot === 'string' ? [personOf(JSON.parse(slot) as PersonState)] : [];
    });
    return { people, after: more ? rows[rows.length - 1]!.rowKey : undefined };
  }

  /** Every person of the batch, in the order the batch named them: its page rows, in one range query. */
  async all(batchId: string): Promise<BatchPerson[]> {
    const filter = odata`PartitionKey eq ${batchPartition(batchId)} and RowKey ge ${'g|'} and RowKey lt ${'g|~'}`;
    const people: { position: number; state: PersonState }[] = [];
    for await (const row of this.table.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      const first = Number(String(row.rowKey).slice(2)) * PEOPLE_PER_PAGE_ROW;
      for (let slot = 0; slot < PEOPLE_PER_PAGE_ROW; slot += 1) {
        const value = row[slotName(slot)];
        if (typeof value === 'string') people.push({ position: first + slot, state: JSON.parse(value) as PersonState });
      }
    }
    return people
      .filter(({ state }) => state.countedAs !== WITHDRAWN)
      .sort((a, b) => a.position - b.position)
      .map(({ state }) => personOf(state));
  }

  /** The record ids of the people counted as `countedAs` (the sweep reconciles those in flight). */
  async recordIdsCountedAs(batchId: string, countedAs: CountKey): Promise<string[]> {
    const ids: string[] = [];
    for await (const row of this.personRows(batchId, countedAs)) ids.push(row.rowKey.slice(2));
    return ids;
  }

  private async *personRows(batchId: string, countedAs?: CountKey, after?: string, readAhead = 1_000): AsyncGenerator<PersonRow> {
    const range = odata`PartitionKey eq ${batchPartition(batchId)} and RowKey gt ${after ?? 'p|'} and RowKey lt ${PEOPLE_END}`;
    const filter = `${range} and ${countedAs ? odata`countedAs eq ${countedAs}` : odata`countedAs ne ${WITHDRAWN}`}`;
    for await (const page of this.table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: readAhead })) {
      for (const entity of page) yield personRowSchema.parse(entity);
    }
  }

  /** A person another batch has in hand: counted as Duplicate, unless the batch already has a row for them. */
  private async addDuplicate(batchId: string, person: NamedPerson, submittedAt: string): Promise<void> {
    for (;;) {
      if (await this.readPerson(batchId, person.record.id)) return;
      const meta = await this.readMeta(batchId);
      const state = stateOf(person.record, 'Duplicate', person.index, submittedAt);
      const outcome = await this.commit(batchId, [{ recordId: person.record.id, position: meta?.people ?? 0, state }], [], meta, 1);
      if (outcome === 'done') return;
    }
  }

  /**
   * One transaction: new person rows at their positions, changed person rows (under their ETags),
   * their copies in the page rows, and the batch row's counts and people (under its ETag) when they
   * change. 'person exists' when a new person row met one; 'batch changed' when anything else moved.
   */
  private async commit(
    batchId: string,
    created: readonly { recordId: string; position: number; state: PersonState }[],
    changed: readonly { person: PersonRow; state: PersonState }[],
    meta: MetaRow | undefined,
    newPeople: number,
  ): Promise<'done' | 'person exists' | 'batch changed'> {
    const partitionKey = batchPartition(batchId);
    const actions: TransactionAction[] = [];
    const delta = new Map<CountKey, number>();
    const move = (key: CountedAs, by: number) => key !== WITHDRAWN && delta.set(key, (delta.get(key) ?? 0) + by);
    const slots = new Map<number, Record<string, string>>();
    const place = (position: number, state: PersonState) => {
      const row = Math.floor(position / PEOPLE_PER_PAGE_ROW);
      slots.set(row, { ...slots.get(row), [slotName(position)]: JSON.stringify(state) });
    };
    for (const { recordId, position, state } of created) {
      actions.push(['create', { partitionKey, rowKey: personRowKey(recordId), position, ...personColumns(state) }]);
      move(state.countedAs, 1);
      place(position, state);
    }
    for (const { person, state } of changed) {
      actions.push([
        'update',
        { partitionKey, rowKey: person.rowKey, position: person.position, ...personColumns(state) },
        'Replace',
        { etag: person.etag },
      ]);
      move(person.countedAs, -1);
      move(state.countedAs, 1);
      place(person.position, state);
    }
    for (const [row, properties] of slots) actions.push(['upsert', { partitionKey, rowKey: pageRowKey(row), ...properties }, 'Merge']);
    const counts = Object.fromEntries(
      [...delta].filter(([, by]) => by !== 0).map(([key, by]) => [countColumn(key), numberIn(meta, countColumn(key)) + by]),
    );
    if (newPeople > 0 || Object.keys(counts).length > 0) {
      const batchRow = { partitionKey, rowKey: META_ROW, ...counts, ...(newPeople > 0 ? { people: (meta?.people ?? 0) + newPeople } : {}) };
      actions.push(meta ? ['update', batchRow, 'Merge', { etag: meta.etag }] : ['create', batchRow]);
    }
    try {
      await this.table.submitTransaction(actions);
      return 'done';
    } catch (error) {
      if (!(error instanceof RestError)) throw error;
      // A 409 with the batch row in place is a new person row meeting one: "already in the batch". Without
      // it, the batch row may have been created meanwhile: read again (a person conflict shows again then).
      if (error.statusCode === 409 && created.length > 0 && meta) return 'person exists';
      if ([404, 409, 412].includes(error.statusCode ?? 0)) return 'batch changed';
      throw error;
    }
  }

  private async readPerson(batchId: string, recordId: string): Promise<PersonRow | undefined> {
    const entity = await this.readEntity(batchPartition(batchId), personRowKey(recordId));
    return entity ? personRowSchema.parse(entity) : undefined;
  }

  private async readMeta(batchId: string): Promise<MetaRow | undefined> {
    const entity = await this.readEntity(batchPartition(batchId), META_ROW);
    return entity ? metaRowSchema.parse(entity) : undefined;
  }

  private async readEntity(partitionKey: string, rowKey: string): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.table.getEntity<Record<string, unknown>>(partitionKey, rowKey);
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return undefined;
      throw error;
    }
  }
}

/** The state the record calls for in this batch, or undefined when the person's row is right as it is. */
function nextState(
  batchId: string,
  person: PersonRow | undefined,
  record: InvitationRecord | undefined,
  placement: { index: number; submittedAt: string } | undefined,
): PersonState | undefined {
  if (record && record.batchId === batchId) {
    const submittedAt = person?.submittedAt ?? placement?.submittedAt ?? record.queuedAt;
    const next = stateOf(record, record.status, person?.index ?? placement?.index, submittedAt);
    const same = person && person.countedAs === next.countedAs && person.index === next.index && person.copyHash === hashOf(next.record);
    return same ? undefined : next;
  }
  // The row's attempt was withdrawn (the record is gone, or back to an earlier attempt): it counts no more.
  if (person && person.countedAs !== 'Duplicate' && person.countedAs !== WITHDRAWN && (!record || record.queuedAt < person.queuedAt)) {
    const { countedAs: _countedAs, index, submittedAt, queuedAt } = person;
    return { countedAs: WITHDRAWN, ...(index !== undefined ? { index } : {}), submittedAt, queuedAt, record: '{}' };
  }
  // Nothing here, a duplicate, or a person since queued by another batch: this batch keeps what it had.
  return undefined;
}

function stateOf(record: InvitationRecord, countedAs: CountedAs, index: number | undefined, submittedAt: string): PersonState {
  const listed = withoutRedeemUrl(record);
  const copy = listed.error
    ? { ...listed, error: { ...listed.error, message: listed.error.message.slice(0, MAX_COPIED_MESSAGE) } }
    : listed;
  return { countedAs, ...(index !== undefined ? { index } : {}), submittedAt, queuedAt: record.queuedAt, record: JSON.stringify(copy) };
}

/** A person row's columns: the state without the copy, and the copy's hash. */
function personColumns({ record, ...state }: PersonState) {
  return { ...state, copyHash: hashOf(record) };
}

const hashOf = (copy: string) => createHash('sha256').update(copy, 'utf8').digest('base64url').slice(0, 22);

function personOf(state: PersonState): BatchPerson {
  return {
    record: JSON.parse(state.record) as ListedInvitationRecord,
    ...(state.index !== undefined ? { index: state.index } : {}),
    submittedAt: state.submittedAt,
    duplicate: state.countedAs === 'Duplicate',
  };
}

function numberIn(row: Record<string, unknown> | undefined, column: string): number {
  const value = row?.[column];
  return typeof value === 'number' ? value : 0;
}
