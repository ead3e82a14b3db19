import { odata, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { INVITATION_STATUSES, withoutRedeemUrl, type InvitationRecord, type ListedInvitationRecord } from '../core';
import { batchSourceSchema, type BatchSource } from './batchSource';
import { GroupCommit } from './groupCommit';
import { BATCH_META_ROW, isLostRace, isNotFound, type TableLayout } from '../storage';

/**
 * A batch's people and their counts, readable in two point reads whatever the batch's size. In the
 * batch's partition (`b|<batchId>`):
 * - the batch row (RowKey `meta`): the counts per status, and how many places the batch has handed
 *   out (`people`); batchIndex.ts keeps its source and creation time there too;
 * - page rows (RowKey `g|<n>`): for places 100·n to 100·n+99, one property each (`s00`…`s99`), the
 *   person at that place: how they are counted, where the submission named them, and a copy of
 *   their record as of its last change. A page of 100 people is one point read.
 *
 * A submission reserves places for its people on the batch row before their records are written;
 * each record keeps its place (`batchPosition`), so every later write of the record knows which
 * copy to update. A copy and the counts change together in one entity-group transaction, under the
 * page row's and the batch row's ETags: the counts are the tally of the copies at every moment, so
 * they never go negative and never count a person twice. Every write of a record is followed by
 * `sync`, which reads the copy, then the record, and makes the copy the record's. A crash between
 * the two writes leaves a copy behind its record until the next sync of that person: the worker's
 * next step, the message's redelivery, or the stranded sweep's reconciliation
 * (strandedInvitationSweeper.ts). A place reserved for someone who was never recorded stays empty.
 *
 * A batch counts the people it queued (the record's batchId). A person it named while another batch
 * had them in hand is counted as `Duplicate`; a person later queued by another batch stays counted
 * here as this batch left them.
 */

export const COUNT_KEYS = [...INVITATION_STATUSES, 'Duplicate'] as const;
export type CountKey = (typeof COUNT_KEYS)[number];
export type BatchCounts = Record<CountKey, number>;
/** A batch's counts before anyone is counted. */
export const noCounts = (): BatchCounts => Object.fromEntries(COUNT_KEYS.map((key) => [key, 0])) as BatchCounts;
/** A row whose attempt was withdrawn (the intake could not queue it): kept, counted as nothing, listed nowhere. */
const WITHDRAWN = 'Withdrawn';
type CountedAs = CountKey | typeof WITHDRAWN;

const PEOPLE_PER_PAGE_ROW = 100;
/** An entity-group transaction takes 100 actions: page rows and the batch row. */
const PAGE_ROWS_PER_TRANSACTION = 98;
/** A group of syncs reads this many records at most, all at once. */
const MAX_SYNC_GROUP = 100;
/** A copied error message is cut to this, so that a page row of 100 copies stays far below an entity's 1 MiB. */
const MAX_COPIED_MESSAGE = 2_000;

const pageRowKey = (pageRow: number) => `g|${String(pageRow).padStart(6, '0')}`;
const slotName = (position: number) => `s${String(position % PEOPLE_PER_PAGE_ROW).padStart(2, '0')}`;
const countColumn = (key: CountKey) => `n${key}`;

const countedAsSchema = z.enum([...COUNT_KEYS, WITHDRAWN]);
/** A person's place in a page row. */
const slotSchema = z.object({
  countedAs: countedAsSchema,
  /** Their place in the submission that named them (absent when a worker wrote the copy first). */
  index: z.number().int().optional(),
  submittedAt: z.string(),
  queuedAt: z.string(),
  /** The copy of their record (JSON), without its redemption URL. */
  record: z.string(),
  /**
   * The intake's copy: just the person's id, email and externalId (JSON). The rest of a record just
   * queued follows from the place (status Queued, no attempt, times = queuedAt); the worker's first
   * sync writes the full copy. It halves what the intake writes.
   */
  brief: z.literal(true).optional(),
});
type Slot = z.infer<typeof slotSchema>;

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
type PageRow = Record<string, unknown> & { etag: string };

export interface BatchPerson {
  record: ListedInvitationRecord;
  index?: number;
  submittedAt: string;
  /** Named while another batch had the person in hand: nothing was queued for them here. */
  duplicate: boolean;
}

/** A person a submission named, at the place reserved for them, with their record as the intake left it. */
export interface PlacedPerson {
  record: InvitationRecord;
  index: number;
  position: number;
  /** Whether this batch queued them; false for a duplicate of another batch's person. */
  queuedHere: boolean;
  /** Queued again (their record had an earlier attempt): their copy is synced from the record. */
  requeued?: boolean;
}

/** A record with its place in its batch, as the ledger reads it. */
export interface PlacedRecord {
  record: InvitationRecord;
  batchPosition?: number;
}

export interface BatchSummary {
  counts: BatchCounts;
  /** Places handed out, empty ones included: positions run from 0 to this. */
  people: number;
  /** Whether any submission had rejected rows (rejectedRows.ts): only then are they read. */
  hasRejected: boolean;
  source?: BatchSource;
  createdAt?: string;
}

export class BatchLedger {
  constructor(
    private readonly layout: TableLayout,
    private readonly readRecord: (id: string) => Promise<PlacedRecord | undefined>,
  ) {}

  /** Reserves `count` places for a submission's people: the first of them. */
  async reserve(batchId: string, count: number): Promise<number> {
    for (;;) {
      const meta = await this.readMeta(batchId);
      const first = meta?.people ?? 0;
      const rows = this.layout.batchRows(batchId);
      const reserved = { people: first + count };
      try {
        if (meta) await rows.update(BATCH_META_ROW, reserved, 'Merge', meta.etag);
        else await rows.create(BATCH_META_ROW, reserved);
        return first;
      } catch (error) {
        if (!(isNotFound(error) || isLostRace(error))) throw error;
      }
    }
  }

  /**
   * The intake's copies of a submission's people at their places, in one transaction per 98 page
   * rows. A place a worker filled first keeps the worker's copy (it is newer), given its index.
   */
  async addPeople(batchId: string, people: readonly PlacedPerson[], submittedAt: string): Promise<void> {
    const byRow = new Map<number, PlacedPerson[]>();
    for (const person of people) {
      const row = Math.floor(person.position / PEOPLE_PER_PAGE_ROW);
      byRow.set(row, [...(byRow.get(row) ?? []), person]);
    }
    const rows = [...byRow.keys()];
    for (let start = 0; start < rows.length; start += PAGE_ROWS_PER_TRANSACTION) {
      const chunk = rows.slice(start, start + PAGE_ROWS_PER_TRANSACTION);
      for (;;) {
        const [meta, ...pages] = await Promise.all([this.readMeta(batchId), ...chunk.map((row) => this.readPage(batchId, row))]);
        const changes = chunk.flatMap((row, i) =>
          byRow.get(row)!.flatMap((person) => {
            const existing = slotIn(pages[i], person.position);
            if (existing?.index !== undefined) return [];
            const slot = existing
              ? { ...existing, index: person.index }
              : briefStateOf(person.record, person.queuedHere ? person.record.status : 'Duplicate', person.index, submittedAt);
            return [{ position: person.position, before: existing, slot }];
          }),
        );
        if ((await this.commit(batchId, changes, pages, chunk, meta)) === 'done') break;
      }
    }
  }

  /**
   * Makes the copy at `position` follow the record (see the module comment); true when it had to
   * change. Syncs of one batch that come while one is in flight go together in the next
   * transaction (groupCommit.ts): its batch row is the one row every change of status moves.
   */
  sync(batchId: string, recordId: string, position: number): Promise<boolean> {
    return this.syncs.write(batchId, { recordId, position });
  }

  private readonly syncs = new GroupCommit<{ recordId: string; position: number }, boolean>(
    (batchId, people) => this.syncGroup(batchId, people),
    // Up to the page rows one transaction takes, one record per place, and as many records as a
    // group reads at once.
    (waiting) => {
      const rows = new Set<number>();
      const places = new Map<number, string>();
      let count = 0;
      for (const { recordId, position } of waiting.slice(0, MAX_SYNC_GROUP)) {
        const row = Math.floor(position / PEOPLE_PER_PAGE_ROW);
        if ((!rows.has(row) && rows.size === PAGE_ROWS_PER_TRANSACTION) || (places.get(position) ?? recordId) !== recordId) break;
        rows.add(row);
        places.set(position, recordId);
        count += 1;
      }
      return count;
    },
  );

  /** One sync of several people of a batch: one read of each page row and of the batch row, one transaction. */
  private async syncGroup(batchId: string, people: readonly { recordId: string; position: number }[]): Promise<boolean[]> {
    const places = [...new Map(people.map((person) => [person.position, person.recordId]))];
    const rows = [...new Set(places.map(([position]) => Math.floor(position / PEOPLE_PER_PAGE_ROW)))];
    for (let conflicts = 0; ; conflicts += 1) {
      const [pages, records] = await Promise.all([
        Promise.all(rows.map((row) => this.readPage(batchId, row))),
        Promise.all(places.map(([, recordId]) => this.readRecord(recordId))),
      ]);
      const changes = places.flatMap(([position], index) => {
        const before = slotIn(pages[rows.indexOf(Math.floor(position / PEOPLE_PER_PAGE_ROW))], position);
        const slot = nextSlot(batchId, position, before, records[index]);
        return slot ? [{ position, before, slot }] : [];
      });
      // The batch row changes only with the counts: new copies alone need only their page rows' ETags.
      const meta = changes.some(({ before, slot }) => before?.countedAs !== slot.countedAs) ? await this.readMeta(batchId) : undefined;
      if ((await this.commit(batchId, changes, pages, rows, meta)) === 'done') {
        const changed = new Set(changes.map((change) => change.position));
        return people.map((person) => changed.has(person.position));
      }
      // Another process committed first: wait a random while, longer after each loss, so that
      // processes racing for the batch row fall out of step instead of colliding again.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 10 * 2 ** conflicts)));
    }
  }

  /** The batch row: counts, places handed out, and what batchIndex.ts keeps there. */
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
    return (await this.summary(batchId))?.counts ?? noCounts();
  }

  /** The people at places [offset, offset + count), in the order the batch named them: a point read per 100. */
  async peopleAt(batchId: string, offset: number, count: number): Promise<BatchPerson[]> {
    const rows: number[] = [];
    for (let row = Math.floor(offset / PEOPLE_PER_PAGE_ROW); row * PEOPLE_PER_PAGE_ROW < offset + count; row += 1) rows.push(row);
    const pages = await Promise.all(rows.map((row) => this.readPage(batchId, row)));
    const people: BatchPerson[] = [];
    for (let position = offset; position < offset + count; position += 1) {
      const slot = slotIn(pages[Math.floor(position / PEOPLE_PER_PAGE_ROW) - rows[0]!], position);
      if (slot && slot.countedAs !== WITHDRAWN) people.push(personOf(slot, batchId));
    }
    return people;
  }

  /**
   * Up to `pageSize` people counted as `countedAs`, after the place `after`: the page rows from
   * there, read in a range query and filtered here (a cost that grows with the batch).
   */
  async peopleCountedAs(batchId: string, countedAs: CountKey, { pageSize, after = -1 }: { pageSize: number; after?: number }) {
    const people: BatchPerson[] = [];
    let last = after;
    for await (const { position, slot } of this.slots(batchId, after + 1)) {
      if (slot.countedAs !== countedAs) continue;
      if (people.length === pageSize) return { people, after: last };
      people.push(personOf(slot, batchId));
      last = position;
    }
    return { people, after: undefined };
  }

  /** Every person of the batch, in the order the batch named them: its page rows, in one range query. */
  async all(batchId: string): Promise<BatchPerson[]> {
    const people: BatchPerson[] = [];
    for await (const { slot } of this.slots(batchId)) if (slot.countedAs !== WITHDRAWN) people.push(personOf(slot, batchId));
    return people;
  }

  /** The record ids and places of the people counted as `countedAs` (the sweep reconciles those in flight). */
  async placesCountedAs(batchId: string, countedAs: CountKey): Promise<{ recordId: string; position: number }[]> {
    const found: { recordId: string; position: number }[] = [];
    for await (const { position, slot } of this.slots(batchId)) {
      if (slot.countedAs === countedAs) found.push({ recordId: (JSON.parse(slot.record) as { id: string }).id, position });
    }
    return found;
  }

  /** Every filled place from `from` on, in order. */
  private async *slots(batchId: string, from = 0): AsyncGenerator<{ position: number; slot: Slot }> {
    const filter = odata`RowKey ge ${pageRowKey(Math.floor(from / PEOPLE_PER_PAGE_ROW))} and RowKey lt ${'g|~'}`;
    for await (const page of this.layout.batchRows(batchId).list<Record<string, unknown>>(filter)) {
      const first = Number(String(page.rowKey).slice(2)) * PEOPLE_PER_PAGE_ROW;
      for (let position = Math.max(first, from); position < first + PEOPLE_PER_PAGE_ROW; position += 1) {
        const slot = slotIn(page, position);
        if (slot) yield { position, slot };
      }
    }
  }

  /**
   * One transaction: the changed copies in their page rows (under each row's ETag, or created), and
   * the batch row's counts (under its ETag) when they move. 'conflict' when anything changed since
   * it was read: the caller reads again.
   */
  private async commit(
    batchId: string,
    changes: readonly { position: number; before: Slot | undefined; slot: Slot }[],
    pages: readonly (PageRow | undefined)[],
    rows: readonly number[],
    meta: MetaRow | undefined,
  ): Promise<'done' | 'conflict'> {
    if (changes.length === 0) return 'done';
    const partition = this.layout.batchRows(batchId);
    const { partitionKey } = partition;
    const delta = new Map<CountKey, number>();
    const move = (key: CountedAs, by: number) => key !== WITHDRAWN && delta.set(key, (delta.get(key) ?? 0) + by);
    const slots = new Map<number, Record<string, string>>();
    for (const { position, before, slot } of changes) {
      if (before) move(before.countedAs, -1);
      move(slot.countedAs, 1);
      const row = Math.floor(position / PEOPLE_PER_PAGE_ROW);
      slots.set(row, { ...slots.get(row), [slotName(position)]: JSON.stringify(slot) });
    }
    const actions: TransactionAction[] = [...slots].map(([row, properties]) => {
      const page = pages[rows.indexOf(row)];
      const entity = { partitionKey, rowKey: pageRowKey(row), ...properties };
      return page ? ['update', entity, 'Merge', { etag: page.etag }] : ['create', entity];
    });
    const counts = Object.fromEntries(
      [...delta].filter(([, by]) => by !== 0).map(([key, by]) => [countColumn(key), numberIn(meta, countColumn(key)) + by]),
    );
    if (Object.keys(counts).length > 0) {
      const batchRow = { partitionKey, rowKey: BATCH_META_ROW, ...counts };
      actions.push(meta ? ['update', batchRow, 'Merge', { etag: meta.etag }] : ['create', batchRow]);
    }
    try {
      await partition.transact(actions);
      return 'done';
    } catch (error) {
      if (isNotFound(error) || isLostRace(error)) return 'conflict';
      throw error;
    }
  }

  private async readPage(batchId: string, row: number): Promise<PageRow | undefined> {
    return (await this.layout.batchRows(batchId).find(pageRowKey(row))) as PageRow | undefined;
  }

  private async readMeta(batchId: string): Promise<MetaRow | undefined> {
    const entity = await this.layout.batchRows(batchId).find(BATCH_META_ROW);
    return entity ? metaRowSchema.parse(entity) : undefined;
  }
}

/** The copy the record calls for at this place, or undefined when the copy is right as it is. */
function nextSlot(batchId: string, position: number, before: Slot | undefined, placed: PlacedRecord | undefined): Slot | undefined {
  const record = placed?.record;
  if (record && record.batchId === batchId && placed.batchPosition === position) {
    const next = stateOf(record, record.status, before?.index, before?.submittedAt ?? record.queuedAt);
    const same = before && before.countedAs === next.countedAs && before.record === next.record;
    return same ? undefined : next;
  }
  // The place's attempt was withdrawn (the record is gone, or back to an earlier attempt): it counts no more.
  if (before && before.countedAs !== 'Duplicate' && before.countedAs !== WITHDRAWN && (!record || record.queuedAt < before.queuedAt)) {
    return { ...before, countedAs: WITHDRAWN };
  }
  // Nothing here, a duplicate, or a person since queued elsewhere: this batch keeps what it had.
  return undefined;
}

function slotIn(page: Record<string, unknown> | undefined, position: number): Slot | undefined {
  const value = page?.[slotName(position)];
  return typeof value === 'string' ? slotSchema.parse(JSON.parse(value)) : undefined;
}

function stateOf(record: InvitationRecord, countedAs: CountedAs, index: number | undefined, submittedAt: string): Slot {
  const listed = withoutRedeemUrl(record);
  const copy = listed.error
    ? { ...listed, error: { ...listed.error, message: listed.error.message.slice(0, MAX_COPIED_MESSAGE) } }
    : listed;
  return { countedAs, ...(index !== undefined ? { index } : {}), submittedAt, queuedAt: record.queuedAt, record: JSON.stringify(copy) };
}

/** The intake's brief copy (see the slot's `brief`). */
function briefStateOf(record: InvitationRecord, countedAs: CountedAs, index: number, submittedAt: string): Slot {
  const { id, email, externalId } = record;
  return { countedAs, index, submittedAt, queuedAt: record.queuedAt, record: JSON.stringify({ id, email, externalId }), brief: true };
}

function personOf(state: Slot, batchId: string): BatchPerson {
  return {
    record: state.brief ? briefRecord(state, batchId) : (JSON.parse(state.record) as ListedInvitationRecord),
    ...(state.index !== undefined ? { index: state.index } : {}),
    submittedAt: state.submittedAt,
    duplicate: state.countedAs === 'Duplicate',
  };
}

/** A record just queued, from its brief copy; a duplicate's is read live by the report anyway. */
function briefRecord(state: Slot, batchId: string): ListedInvitationRecord {
  const { id, email, externalId } = JSON.parse(state.record) as { id: string; email: string; externalId?: string };
  const status = state.countedAs === 'Duplicate' || state.countedAs === WITHDRAWN ? 'Queued' : state.countedAs;
  const at = state.queuedAt;
  return {
    id,
    batchId,
    email,
    ...(externalId !== undefined ? { externalId } : {}),
    status,
    attempts: 0,
    createdAt: at,
    updatedAt: at,
    queuedAt: at,
  };
}

function numberIn(row: Record<string, unknown> | undefined, column: string): number {
  const value = row?.[column];
  return typeof value === 'number' ? value : 0;
}
