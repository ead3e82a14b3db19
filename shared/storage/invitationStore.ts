import { odata, type TableEntityResult } from '@azure/data-tables';
import { mapWithConcurrency, NotFound, recordIdForEmail, recordIdSchema, type InvitationRecord, type InvitationStatus } from '../core';
import { readRecord, toStoredRecord, toTableEntity, type RecordEntity, type StoredRecord } from './recordEntity';
import { isPreconditionFailed } from './errors';
import {
  PersonAdmission,
  externalIdPrefix,
  type AdmissionCandidate,
  type AdmissionOptions,
  type AdmissionResult,
  type AdmitOptions,
  type RecordedAdmission,
} from './personAdmission';
import type { TableLayout } from './tableLayout';

/**
 * Records in Table storage (batches have their own rows: see batches/batchLedger.ts):
 * - record:        PartitionKey `r<first hex digit of id>`, RowKey `<id>`: one per person. Sixteen
 *                  partitions let a batch be written in a few entity-group transactions instead of
 *                  one call per person, while spreading load across partition servers.
 * - external id:   same partition as its record, RowKey `x|<encoded externalId>|<id>`, so that it is
 *                  written in the record's transaction and found with one range query per partition.
 */

export const INVITATIONS_TABLE = 'Invitations';
const PARALLEL_TABLE_CALLS = 16;

/** A change of a record, for the batch that keeps a copy of the person. */
export interface RecordChange {
  batchId: string;
  recordId: string;
  batchPosition?: number;
  /** The row as written (absent for a withdrawal): what the person's caller is told of (lifecycle/invitationEvents.ts). */
  entity?: RecordEntity;
  /** false: a change within the same status (follow-up outcomes), which the caller has heard of already. */
  announce?: boolean;
  /** The change's event, written with it: to be queued, then taken out of the outbox. */
  outbox?: OutboxEntry;
}

/** What follows a record's change (records/recordChanges.ts, or a test's own). */
export interface RecordChangeFollower {
  follow(change: RecordChange): Promise<unknown>;
}

/**
 * The event of a record's change, kept in the outbox (a row in the record's partition, `o|<event
 * id>`) by the same entity-group transaction as the change: no change is recorded without its
 * event, however the queue fares. lifecycle/eventOutbox.ts makes them and relays them.
 */
export interface OutboxEntry {
  /** The outbox row's key: `o|<event id>`. */
  rowKey: string;
  /** The events queue's message, as it is queued. */
  message: string;
}

export interface EventOutboxWriter {
  /** The change's outbox entry, when its status is one its caller hears of and it has somewhere to hear it. */
  entryFor(entity: RecordEntity): OutboxEntry | undefined;
}

export interface InvitationStoreOptions extends AdmissionOptions {
  /**
   * What follows each change of a record this store makes on its own (replace, withdraw,
   * reconfirm): its copy in its batch and its caller's event (records/recordChanges.ts). A write
   * returns once they have run. The intake tells the batch of its admissions itself, with their
   * place in the submission.
   */
  changes?: RecordChangeFollower;
  /** The events of status changes, written in each change's transaction (none: events follow the write, at most once). */
  outbox?: EventOutboxWriter;
}

export class InvitationStore {
  private readonly admission: PersonAdmission;

  constructor(
    readonly layout: TableLayout,
    private readonly options: InvitationStoreOptions,
  ) {
    this.admission = new PersonAdmission(layout, options, this);
  }

  async ensureTable(): Promise<void> {
    await this.layout.ensureTable();
  }

  /**
   * Records each candidate as Queued unless its person already has a live record (personAdmission.ts):
   * concurrent submissions queue a person at most once.
   */
  async admit(batchId: string, candidates: readonly AdmissionCandidate[], options: AdmitOptions = {}): Promise<AdmissionResult[]> {
    return this.admission.admit(batchId, candidates, options);
  }

  /** Who would change address (a plan's question, intake/invitationPlanner.ts): as `admit` decides, reading only. */
  async emailChangesFor(candidates: readonly AdmissionCandidate[]): Promise<Map<number, StoredRecord>> {
    return this.admission.emailChangesFor(candidates);
  }

  /**
   * Undoes an admission whose queue message could not be sent, so that the caller's retry queues
   * the person (a record left Queued without a message would wait for QUEUED_STALE_AFTER_SECONDS).
   */
  async withdraw({ record, admission, previous, batchPosition }: RecordedAdmission): Promise<void> {
    const rows = this.layout.recordRows(record.id);
    if (admission === 'created') await rows.delete(record.id);
    else if ((admission === 'requeued' || admission === 'updated') && previous)
      await rows.update(record.id, toTableEntity(previous), 'Replace');
    else return;
    // The withdrawn attempt's place in its batch: its copy there counts no more (or again as before).
    await this.options.changes?.follow({ batchId: record.batchId, recordId: record.id, batchPosition });
  }

  /**
   * Tells the record's batch (and its caller) of it again: its last change may not have reached
   * them (a crash between the writes).
   */
  async reconfirm({ entity }: StoredRecord): Promise<void> {
    await this.options.changes?.follow({ batchId: entity.batchId, recordId: entity.id, batchPosition: entity.batchPosition, entity });
  }

  /**
   * Replaces a record row. With an ETag it is a compare-and-swap: the new ETag, or undefined when
   * someone changed the row since it was read (412). Without one it always writes.
   */
  async replace(entity: RecordEntity, etag?: string, { announce = true }: { announce?: boolean } = {}): Promise<string | undefined> {
    const outbox = announce ? this.options.outbox?.entryFor(entity) : undefined;
    const written = await this.writeRow(entity, etag, outbox);
    if (written === undefined) return undefined;
    await this.options.changes?.follow({
      batchId: entity.batchId,
      recordId: entity.id,
      batchPosition: entity.batchPosition,
      entity,
      // With an outbox the event is in it, and relayed from there (once more when a message is redelivered).
      announce: announce && !this.options.outbox,
      ...(outbox ? { outbox } : {}),
    });
    return written;
  }

  /**
   * A compare-and-swap of a change nobody else needs to hear of (the tracker's note of when it last
   * read the guest): no batch copy or caller is told, and updatedAt is the caller's to keep.
   */
  async touch(entity: RecordEntity, etag: string): Promise<boolean> {
    return (await this.writeRow(entity, etag)) !== undefined;
  }

  /**
   * The row written, with its event in the outbox in the same transaction when there is one: its
   * new ETag, or undefined when an ETag was given and the row had changed (412).
   */
  private async writeRow(entity: RecordEntity, etag?: string, outbox?: OutboxEntry): Promise<string | undefined> {
    const rows = this.layout.recordRows(entity.id);
    try {
      if (!outbox) return await rows.update(entity.id, toTableEntity(entity), 'Replace', etag);
      const written = await rows.transact([
        ['update', toTableEntity(entity), 'Replace', etag ? { etag } : undefined],
        [
          'upsert',
          { ...rows.key(outbox.rowKey), recordId: entity.id, message: outbox.message, createdAt: new Date().toISOString() },
          'Replace',
        ],
      ]);
      return written.get(entity.id) ?? (await rows.get(entity.id)).etag;
    } catch (error) {
      if (etag && isPreconditionFailed(error)) return undefined;
      throw error;
    }
  }

  async getById(id: string): Promise<StoredRecord | undefined> {
    return readRecord(this.layout, id);
  }

  /** The record an API caller names by id, or NotFound (for an id that is no invitation id, too). */
  async getNamed(id: string): Promise<StoredRecord> {
    const valid = recordIdSchema.safeParse(id);
    const stored = valid.success ? await this.getById(valid.data) : undefined;
    if (!stored) throw new NotFound(`No invitation ${id}.`);
    return stored;
  }

  async findByEmail(normalizedEmail: string): Promise<InvitationRecord[]> {
    const stored = await this.getById(recordIdForEmail(normalizedEmail));
    return stored ? [stored.record] : [];
  }

  async findByExternalId(externalId: string): Promise<InvitationRecord[]> {
    const prefix = externalIdPrefix(externalId);
    const rows = await this.listInEveryRecordPartition<{ recordId: string }>(odata`RowKey ge ${prefix} and RowKey lt ${`${prefix}~`}`, [
      'recordId',
    ]);
    const records = await mapWithConcurrency(rows, PARALLEL_TABLE_CALLS, (row) => this.getById(row.recordId));
    // An index row outlives a change of externalId on a later submission: trust the record.
    return records.flatMap((stored) => (stored && stored.record.externalId === externalId ? [stored.record] : []));
  }

  /**
   * Records still Queued and untouched since `before` (an ISO time): people whose queue message
   * may have been lost. A filtered scan of the record partitions: meant for an idle pipeline (see
   * strandedInvitationSweeper.ts), not for every request.
   */
  async queuedUntouchedSince(before: string): Promise<StoredRecord[]> {
    return this.recordsWhere(odata`status eq 'Queued' and updatedAt lt ${before}`);
  }

  /**
   * People whose guest the lifecycle still watches: Invited, and Expired in `report` mode (they may
   * still accept). A filtered scan of the record partitions, for the tracker's timer.
   */
  async awaitingAcceptance(): Promise<StoredRecord[]> {
    return this.recordsWhere(odata`(status eq 'Invited' or (status eq 'Expired' and expiredAction eq 'reported'))`);
  }

  /** Leavers whose LEAVER_ACTION is due by `at` (lifecycle/leavers.ts): a filtered scan of the record partitions. */
  async leaversDueBy(at: string): Promise<StoredRecord[]> {
    return this.recordsWhere(odata`status eq 'Left' and leaverActionDueAt le ${at}`);
  }

  /** The people a partner's synced rosters named (rosters/rosterSync.ts): a filtered scan of the record partitions. */
  async partnerPeople(partner: string): Promise<StoredRecord[]> {
    return this.recordsWhere(odata`partner eq ${partner}`);
  }

  /** Every record in one status: a filtered scan of the record partitions (GET /api/expired). */
  async withStatus(status: InvitationStatus): Promise<StoredRecord[]> {
    return this.recordsWhere(odata`status eq ${status}`);
  }

  /** The records a filter selects in every record partition. */
  private async recordsWhere(filter: string): Promise<StoredRecord[]> {
    return (await this.listInEveryRecordPartition<RecordEntity>(filter)).map(toStoredRecord);
  }

  /** One query per record partition, 16 in parallel: the rows of all of them. */
  private async listInEveryRecordPartition<T extends object>(filter: string, select?: string[]): Promise<TableEntityResult<T>[]> {
    const found = await mapWithConcurrency(this.layout.allRecordRows(), PARALLEL_TABLE_CALLS, async (rows) => {
      const listed: TableEntityResult<T>[] = [];
      for await (const row of rows.list<T>(filter, select ? { select } : {})) listed.push(row);
      return listed;
    });
    return found.flat();
  }
}
