import type { TransactionAction, RestError } from '@azure/data-tables';
import {
  mapWithConcurrency,
  INVITED_STATUSES,
  recordIdForEmail,
  type Invitation,
  type InvitationRecord,
  type InvitationStatus,
} from '../core';
import {
  groupsColumns,
  NO_CLAIM,
  NO_LIFECYCLE,
  NO_OUTCOME,
  recordFromEntity,
  toTableEntity,
  type RecordEntity,
  type StoredRecord,
} from './recordEntity';
import type { CallerResendBudget } from './callerResendBudget';
import { isConflict, isPreconditionFailed, isRefusal } from './errors';
import { keptFromEarlierSubmissions, moveOf, movedGroups, returnOf, shouldQueueAgain, type Move, type Return } from './admissionRules';
import { recordPartition, type TableLayout } from './tableLayout';
import { PersonIndex } from './personIndex';

/**
 * Admission: what a submission does to the people it names (storage/invitationStore.ts `admit`).
 * A new person is created, in per-partition transactions; a known one is decided by the rules of
 * admissionRules.ts under the record's ETag: queued again (a new attempt, within the resend
 * limits), a duplicate, a mover (their changes marked for the follow-up), a leaver coming back, or
 * (by their externalId, personIndex.ts) a mover's new email address.
 */

const MAX_TRANSACTION_ACTIONS = 100; // Table storage's limit per entity-group transaction
const MAX_TRANSACTION_BYTES = 3 * 1024 * 1024; // below the 4 MiB payload limit, with room for the envelope
const PARALLEL_TABLE_CALLS = 16;

export const externalIdPrefix = (externalId: string) => `x|${encodeURIComponent(externalId)}|`;

/**
 * `updated`: a mover (admissionRules.ts): the person's profile or groups changed, and only that is
 * written onto their guest; or a leaver who came back (`returned`), enabled again.
 */
export type Admission = 'created' | 'requeued' | 'duplicate' | 'updated';
export type AdmissionResult =
  | {
      record: InvitationRecord;
      admission: Admission;
      /** A leaver who came back (admissionRules.ts returnOf): not invited again. */
      returned?: true;
      /** A mover's new address for the same externalId: the same person and guest, its redemption reset. */
      emailChanged?: true;
      /** The person's place in their batch (a duplicate's is in the batch that has them). */
      batchPosition?: number;
      /** For a requeued record: the row as it was, so that withdraw can restore it. */
      previous?: RecordEntity;
    }
  /** Storage would not take this person's record (a limit the schema did not foresee): rejected alone. */
  | { admission: 'refused'; reason: string };
export type RecordedAdmission = Exclude<AdmissionResult, { admission: 'refused' }>;
export interface AdmissionCandidate {
  email: string;
  invitation: Invitation;
  /** The place the batch reserved for this person (batchLedger.ts); a person requeued within their batch keeps theirs. */
  batchPosition?: number;
  /** What the intake warns the caller of (kept on the record for the results CSV). */
  warning?: string;
  /** The partner whose synced roster names the person (rosters/rosterSync.ts), stamped on their record. */
  partner?: string;
}

/** Properties of a new attempt: whatever the previous one left (outcome, error, claim) is cleared. */
function queuedAttemptProperties(
  batchId: string,
  invitation: Invitation,
  now: string,
  batchPosition: number | undefined,
  warning: string | undefined,
) {
  return {
    ...NO_OUTCOME,
    ...NO_LIFECYCLE,
    ...NO_CLAIM,
    batchId,
    batchPosition,
    status: 'Queued' as const,
    queuedAt: now,
    updatedAt: now,
    request: JSON.stringify(invitation),
    externalId: invitation.externalId,
    warning,
  };
}

export interface AdmissionOptions {
  /**
   * QUEUED_STALE_AFTER_SECONDS, in ms: a record left Queued this long has lost its message (the
   * intake failed between the two writes), and a new submission of the person queues it again.
   */
  queuedStaleAfterMs: number;
  /** INVITE_RESEND_MAX_PER_DAY: how often one person may be emailed again in 24 hours. @default 3 */
  resendMaxPerDay?: number;
  /** INVITE_RESEND_MAX_PER_CALLER_PER_DAY: how many people one caller may have invited again in a day (none: no limit). */
  callerResends?: CallerResendBudget;
}

/** What admission needs of the store: a record read, and a write whose change is followed (a returning leaver's). */
interface KnownRecords {
  getById(id: string): Promise<StoredRecord | undefined>;
  replace(entity: RecordEntity, etag?: string): Promise<string | undefined>;
}

const RESEND_WINDOW_MS = 24 * 60 * 60_000;
/** A person whose email a later submission with their externalId may change: their guest exists and is live. */
const EMAIL_CHANGEABLE: ReadonlySet<InvitationStatus> = new Set(['Invited', 'Accepted']);

/** A returning leaver's record keeps nothing of their leaving. */
const NO_LEAVER: Partial<RecordEntity> = {
  leftAt: undefined,
  leftBecause: undefined,
  statusBeforeLeaving: undefined,
  leaverActionDueAt: undefined,
  leaverAction: undefined,
  leaverNote: undefined,
  actionError: undefined,
  actionFailures: undefined,
  actionRetryAt: undefined,
};

export interface AdmitOptions {
  /** Called as each group of people is recorded, so the caller can queue them while the rest are written. */
  onRecorded?: (recorded: AdmissionResult[]) => void;
  /** Who submits (callerResendBudget.ts): their day's budget of resends. @default 'unknown' */
  caller?: string;
}

export class PersonAdmission {
  private readonly people: PersonIndex;

  constructor(
    private readonly layout: TableLayout,
    private readonly options: AdmissionOptions,
    private readonly records: KnownRecords,
  ) {
    this.people = new PersonIndex(layout);
  }

  /**
   * Records each candidate as Queued unless its person already has a live record. New people are
   * written in per-partition transactions; when a transaction meets an existing row (409, e.g. a
   * concurrent submission of the same email) its candidates go through admitOne, which decides
   * with optimistic concurrency, so that concurrent submissions queue a person at most once.
   */
  async admit(
    batchId: string,
    candidates: readonly AdmissionCandidate[],
    { onRecorded, caller = 'unknown' }: AdmitOptions = {},
  ): Promise<AdmissionResult[]> {
    const now = new Date().toISOString();
    const results = new Array<AdmissionResult>(candidates.length);
    const keyed = await this.keyedPeople(candidates);
    const changes = await this.emailChangesAmong(candidates, keyed);
    const fresh = candidates.flatMap((candidate, position) =>
      changes.has(position) ? [] : [{ entity: this.newRecordEntity(batchId, candidate, now), position }],
    );
    await mapWithConcurrency(groupIntoTransactions(fresh), PARALLEL_TABLE_CALLS, async (group) => {
      try {
        await this.layout.recordRows(group[0]!.entity.id).transact(group.flatMap(({ entity }) => createActions(entity)));
        for (const { entity, position } of group)
          results[position] = { record: recordFromEntity(entity), admission: 'created', batchPosition: entity.batchPosition };
      } catch (error) {
        // 409: someone's row exists (decide person by person); another 4xx: one entity storage refuses
        // (find it person by person, so the others are still recorded). Anything else is an outage.
        if (!isRefusal(error)) throw error;
        for (const { position } of group) {
          results[position] = await this.admitOne(batchId, candidates[position]!, caller);
        }
      }
      onRecorded?.(group.map(({ position }) => results[position]!));
    });
    for (const [position, person] of changes) {
      results[position] = await this.changeEmail(batchId, candidates[position]!, person, caller);
      onRecorded?.([results[position]]);
    }
    // Each externalId keyed to its person's record, where it names another (or none) yet.
    await this.people.remember(
      results.flatMap((result) => {
        if (result.admission === 'refused' || !result.record.externalId) return [];
        const { externalId, id: recordId } = result.record;
        return keyed.get(externalId) !== recordId ? [{ externalId, recordId }] : [];
      }),
    );
    return results;
  }

  /** Who would change address (a plan's question, intake/invitationPlanner.ts): as `admit` decides, reading only. */
  async emailChangesFor(candidates: readonly AdmissionCandidate[]): Promise<Map<number, StoredRecord>> {
    return this.emailChangesAmong(candidates, await this.keyedPeople(candidates));
  }

  private keyedPeople(candidates: readonly AdmissionCandidate[]): Promise<Map<string, string>> {
    return this.people.recordIdsOf(candidates.flatMap(({ invitation }) => (invitation.externalId ? [invitation.externalId] : [])));
  }

  /**
   * Candidates whose externalId names a person the app invited at another address (a mover's new
   * email): by position, the person as stored. Only a person whose guest is live and known (Invited
   * or Accepted, with its id) changes address; anyone else with the externalId is a new person.
   */
  private async emailChangesAmong(
    candidates: readonly AdmissionCandidate[],
    keyed: ReadonlyMap<string, string>,
  ): Promise<Map<number, StoredRecord>> {
    const changes = new Map<number, StoredRecord>();
    await mapWithConcurrency([...candidates.entries()], PARALLEL_TABLE_CALLS, async ([position, candidate]) => {
      const externalId = candidate.invitation.externalId;
      const recordId = externalId ? keyed.get(externalId) : undefined;
      if (!recordId || recordId === recordIdForEmail(candidate.email)) return;
      const person = await this.records.getById(recordId);
      if (!person || person.record.externalId !== externalId || person.record.email === candidate.email) return;
      if (!EMAIL_CHANGEABLE.has(person.record.status) || !(person.record.ownedUserId ?? person.record.invitedUserId)) return;
      changes.set(position, person);
    });
    return changes;
  }

  /**
   * A mover's new address (the same externalId): the same person, and the same guest. The new
   * address becomes an alias of their record (so it finds them, and never makes a second person),
   * and the record takes it, queued for a reset of the redemption of the guest this app created at
   * the new address (worker: `resetRedemption: true`, `invitedUser.id`): the guest keeps its id, its
   * groups and its access. An address that is someone's already is admitted as its own person.
   */
  private async changeEmail(batchId: string, candidate: AdmissionCandidate, first: StoredRecord, caller: string): Promise<AdmissionResult> {
    if ((await this.people.addAlias(candidate.email, first.record.id)) === 'taken') return this.admitOne(batchId, candidate, caller);
    for (let person: StoredRecord | undefined = first; ; person = await this.records.getById(first.record.id)) {
      if (!person || !EMAIL_CHANGEABLE.has(person.record.status)) return this.admitOne(batchId, candidate, caller);
      const now = new Date().toISOString();
      const batchPosition = placeInBatch(person, batchId, candidate);
      const entity: RecordEntity = {
        ...person.entity,
        ...NO_CLAIM,
        email: candidate.email,
        previousEmail: person.record.email,
        request: JSON.stringify(keptFromEarlierSubmissions(person, candidate.invitation)),
        status: 'Queued',
        resetRedemptionDue: true,
        reminderDue: undefined,
        batchId,
        batchPosition,
        queuedAt: now,
        updatedAt: now,
        warning: candidate.warning,
        ...(candidate.partner ? { partner: candidate.partner } : {}),
      };
      try {
        await this.layout.recordRows(entity.id).update(entity.id, toTableEntity(entity), 'Replace', person.etag);
      } catch (error) {
        if (isPreconditionFailed(error)) continue; // changed meanwhile: decide again
        if (isRefusal(error)) return { admission: 'refused', reason: refusalReason(error) };
        throw error;
      }
      return { record: recordFromEntity(entity), admission: 'requeued', emailChanged: true, previous: person.entity, batchPosition };
    }
  }

  private async admitOne(batchId: string, candidate: AdmissionCandidate, caller: string): Promise<AdmissionResult> {
    // The caller's resend is counted once, however often the record's write below loses a race.
    const callerResend = { taken: false };
    for (;;) {
      const now = new Date();
      const existing = await this.records.getById(recordIdForEmail(candidate.email));
      if (!existing) {
        const entity = this.newRecordEntity(batchId, candidate, now.toISOString());
        try {
          await this.layout.recordRows(entity.id).transact(createActions(entity));
          return { record: recordFromEntity(entity), admission: 'created', batchPosition: entity.batchPosition };
        } catch (error) {
          if (isConflict(error)) continue; // created meanwhile: decide again
          if (isRefusal(error)) return { admission: 'refused', reason: refusalReason(error) };
          throw error;
        }
      }
      if (!shouldQueueAgain(existing, candidate.invitation, now, this.options.queuedStaleAfterMs)) {
        const comeBack = returnOf(existing);
        const asNow = comeBack ? { ...existing, record: { ...existing.record, status: comeBack.status } } : existing;
        const move = moveOf(asNow, candidate.invitation);
        if (!move && !comeBack) {
          const record = await this.stampPartner(existing, candidate.partner);
          if (!record) continue; // changed meanwhile: decide again
          return { record, admission: 'duplicate', batchPosition: existing.entity.batchPosition };
        }
        const moved = await this.recordMove(existing, move ?? {}, now, comeBack, candidate.partner);
        if (!moved) continue; // changed meanwhile: decide again
        return {
          record: recordFromEntity(moved),
          admission: 'updated',
          ...(comeBack ? { returned: true as const } : {}),
          previous: existing.entity,
          batchPosition: existing.entity.batchPosition,
        };
      }
      const resend = await this.countResend(existing, now, caller, callerResend);
      if ('refusal' in resend) return { admission: 'refused', reason: resend.refusal };
      const batchPosition = placeInBatch(existing, batchId, candidate);
      const invitation = keptFromEarlierSubmissions(existing, candidate.invitation);
      const entity: RecordEntity = {
        ...existing.entity,
        ...queuedAttemptProperties(batchId, invitation, now.toISOString(), batchPosition, candidate.warning),
        ...resend.fields,
        ...(candidate.partner ? { partner: candidate.partner } : {}),
      };
      try {
        await this.layout.recordRows(entity.id).update(entity.id, toTableEntity(entity), 'Replace', existing.etag);
      } catch (error) {
        if (isPreconditionFailed(error)) continue; // someone else changed it: decide again
        if (isRefusal(error)) return { admission: 'refused', reason: refusalReason(error) };
        throw error;
      }
      if (entity.externalId) await this.layout.recordRows(entity.id).upsert(externalIdRowKey(entity), { recordId: entity.id }, 'Replace');
      return { record: recordFromEntity(entity), admission: 'requeued', previous: existing.entity, batchPosition };
    }
  }

  /**
   * A mover's changes kept, and marked for the follow-up to make on the guest (worker/invitationFollowUp.ts):
   * the profile Pending; each newly named group Pending, each group this app added and no longer
   * named Removing. A returning leaver is what they were again, their guest to be enabled if it was
   * disabled; that change of status is announced like any. Undefined if the row changed meanwhile.
   */
  private async recordMove(
    existing: StoredRecord,
    move: Move,
    now: Date,
    comeBack: Return | undefined,
    partner: string | undefined,
  ): Promise<RecordEntity | undefined> {
    const moved: RecordEntity = {
      ...existing.entity,
      ...(partner ? { partner } : {}),
      request: JSON.stringify({ ...existing.invitation, ...move }),
      ...(move.profile ? { profileStatus: 'Pending' as const, profileError: undefined } : {}),
      ...(move.groups ? groupsColumns(movedGroups(existing.record.groups ?? [], move.groups)) : {}),
      ...(comeBack
        ? {
            ...NO_LEAVER,
            status: comeBack.status,
            ...(comeBack.reenable ? { reenableStatus: 'Pending' as const, reenableError: undefined } : {}),
          }
        : {}),
      updatedAt: now.toISOString(),
    };
    // A return is a change of status, announced as any (with its event in the outbox); a move is not.
    if (comeBack) return (await this.records.replace(moved, existing.etag)) === undefined ? undefined : moved;
    try {
      await this.layout.recordRows(moved.id).update(moved.id, toTableEntity(moved), 'Replace', existing.etag);
    } catch (error) {
      if (isPreconditionFailed(error)) return undefined;
      throw error;
    }
    return moved;
  }

  /**
   * A live person named by a partner's synced roster belongs to that partner from now on (its
   * next roster's leavers are counted among its people). The record as it is; undefined if it changed meanwhile.
   */
  private async stampPartner(existing: StoredRecord, partner: string | undefined): Promise<InvitationRecord | undefined> {
    if (!partner || existing.record.partner === partner) return existing.record;
    const stamped: RecordEntity = { ...existing.entity, partner };
    try {
      await this.layout.recordRows(stamped.id).update(stamped.id, toTableEntity(stamped), 'Replace', existing.etag);
      return recordFromEntity(stamped);
    } catch (error) {
      if (isPreconditionFailed(error)) return undefined;
      throw error;
    }
  }

  /**
   * A new attempt for a person who has (or had) a guest emails them again: at most
   * INVITE_RESEND_MAX_PER_DAY such in 24 hours, so that nobody can mail-bomb a partner through us.
   */
  private async countResend(
    existing: StoredRecord,
    now: Date,
    caller: string,
    callerResend: { taken: boolean },
  ): Promise<{ fields: Pick<RecordEntity, 'resendCount' | 'resendWindowStartedAt'> } | { refusal: string }> {
    if (!INVITED_STATUSES.has(existing.record.status)) return { fields: {} };
    const max = this.options.resendMaxPerDay ?? 3;
    const { resendCount = 0, resendWindowStartedAt } = existing.record;
    const windowStart = resendWindowStartedAt ? Date.parse(resendWindowStartedAt) : Number.NaN;
    const newWindow = !(now.getTime() - windowStart < RESEND_WINDOW_MS);
    if (!newWindow && resendCount >= max) {
      const until = new Date(windowStart + RESEND_WINDOW_MS).toISOString();
      return {
        refusal: `was sent the invitation again ${resendCount} time(s) since ${resendWindowStartedAt} (INVITE_RESEND_MAX_PER_DAY is ${max}): submit again after ${until}`,
      };
    }
    if (this.options.callerResends && !callerResend.taken) {
      callerResend.taken = await this.options.callerResends.take(caller, now);
    }
    if (this.options.callerResends && !callerResend.taken) {
      return {
        refusal:
          'was not sent again: this caller has had its day’s number of people invited again (INVITE_RESEND_MAX_PER_CALLER_PER_DAY); submit again tomorrow (UTC)',
      };
    }
    return newWindow
      ? { fields: { resendCount: 1, resendWindowStartedAt: now.toISOString() } }
      : { fields: { resendCount: resendCount + 1, resendWindowStartedAt } };
  }

  private newRecordEntity(batchId: string, candidate: AdmissionCandidate, now: string): RecordEntity {
    const id = recordIdForEmail(candidate.email);
    return {
      id,
      email: candidate.email,
      attempts: 0,
      createdAt: now,
      ...queuedAttemptProperties(batchId, candidate.invitation, now, candidate.batchPosition, candidate.warning),
      ...(candidate.partner ? { partner: candidate.partner } : {}),
    };
  }
}

/** A person queued again by the batch that has them keeps their place there (one copy per person in a batch); otherwise the place reserved now. */
function placeInBatch(person: StoredRecord, batchId: string, candidate: AdmissionCandidate): number | undefined {
  const sameBatch = person.record.batchId === batchId && person.entity.batchPosition !== undefined;
  return sameBatch ? person.entity.batchPosition : candidate.batchPosition;
}

function refusalReason(error: RestError): string {
  const code = error.code ?? `HTTP ${error.statusCode}`;
  return `storage refused its record (${code}: ${error.message.split('\n')[0]!.slice(0, 200)})`;
}

const externalIdRowKey = (entity: RecordEntity) => `${externalIdPrefix(entity.externalId!)}${entity.id}`;

function externalIdEntity(entity: RecordEntity) {
  return { partitionKey: recordPartition(entity.id), rowKey: externalIdRowKey(entity), recordId: entity.id };
}

function createActions(entity: RecordEntity): TransactionAction[] {
  const actions: TransactionAction[] = [['create', toTableEntity(entity)]];
  if (entity.externalId) actions.push(['upsert', externalIdEntity(entity), 'Replace']);
  return actions;
}

interface Positioned {
  entity: RecordEntity;
  position: number;
}

/** Groups new records by partition into transactions within the action and payload limits. */
function groupIntoTransactions(items: readonly Positioned[]): Positioned[][] {
  const byPartition = new Map<string, Positioned[]>();
  for (const item of items) {
    const partition = recordPartition(item.entity.id);
    const partitionItems = byPartition.get(partition);
    if (partitionItems) partitionItems.push(item);
    else byPartition.set(partition, [item]);
  }
  const groups: Positioned[][] = [];
  for (const partitionItems of byPartition.values()) {
    let group: Positioned[] = [];
    let actions = 0;
    let bytes = 0;
    for (const item of partitionItems) {
      const itemActions = item.entity.externalId ? 2 : 1;
      const itemBytes = JSON.stringify(item.entity).length * 2;
      if (group.length > 0 && (actions + itemActions > MAX_TRANSACTION_ACTIONS || bytes + itemBytes > MAX_TRANSACTION_BYTES)) {
        groups.push(group);
        group = [];
        actions = 0;
        bytes = 0;
      }
      group.push(item);
      actions += itemActions;
      bytes += itemBytes;
    }
    if (group.length > 0) groups.push(group);
  }
  return groups;
}
