import type { GraphDirectoryClient, GraphPacer } from '../graph';
import { Conflict, type ExpiredAction, NotAllowed, NotFound } from '../core';
import { type InvitationStore, recordFromEntity, type RecordEntity, type StoredRecord } from '../storage';
import { readOwnGuest } from './guestOwnership';
import { ACTION_DONE, actionRefusal, actionWaits, actOnGuest, NO_ACTION_REFUSAL, refusedActionFields } from './guestActions';

/**
 * Leavers: HR says a person has gone (`DELETE /api/invitations/{id}`, or `?externalId=`), or a
 * partner's synced roster no longer names them (rosters/rosterSync.ts). The person is Left at once
 * (their caller hears it as any status change), and LEAVER_ACTION is done to their guest once
 * LEAVER_GRACE has passed: `report` (nothing), `disable` (reversible: a leaver who comes back is
 * enabled again, storage/admissionRules.ts `returnOf`) or `delete`.
 * - Only a power the operator grants (INVITE_ALLOW_LEAVERS): no key or role marks a leaver without it.
 * - Only the guest this app's own invitation created is touched, read just before
 *   (guestOwnership.ts): a member, or a guest someone else invited, is left alone and the record says so.
 * - A person being invited right now is not marked (the worker's outcome would write over it): 409, try again.
 * - An action Graph refuses (or the write budget has no room for) stays due, with its reason, and
 *   the tracker's runs try it again with a backoff (`actOnDue`).
 */

export interface LeaverPolicy {
  /** INVITE_ALLOW_LEAVERS. */
  allowed: boolean;
  /** LEAVER_ACTION. */
  action: 'report' | 'disable' | 'delete';
  /** LEAVER_GRACE, in ms: how long the action waits (submitting the person again meanwhile undoes it). */
  graceMs?: number;
}

/** One leaver, as the caller is told. */
export interface LeaverAnswer {
  id: string;
  status: 'Left';
  leftAt: string;
  /** What was done to the guest, once done. */
  action?: ExpiredAction;
  /** When the action is due, while it waits (the grace, or Graph refused it for now). */
  actionDueAt?: string;
  /** Why nothing is done to the guest. */
  note?: string;
  /** Why the action was refused this time (it is tried again). */
  error?: string;
}

/** A leaver whose action is due, as the tracker's run reports it. */
export interface LeaverActed {
  id: string;
  email: string;
  batchId: string;
  externalId?: string;
  action: ExpiredAction;
  /** Only reported (a dry run). */
  reportedOnly?: true;
  failed?: string;
}

// How long a leaver's request waits for a turn of the write budget before the tracker's run takes over.
const REQUEST_ACTION_BUDGET_MS = 10_000;
const NO_GUEST = 'nothing to do to a guest: the person was never invited, or their guest is gone';

export class Leavers {
  constructor(
    private readonly store: InvitationStore,
    private readonly directory: Pick<GraphDirectoryClient, 'readGuests' | 'disable' | 'delete'>,
    private readonly writePacer: GraphPacer,
    private readonly policy: LeaverPolicy,
  ) {}

  /** Marks one person a leaver (idempotent: a leaver is answered as they are), and acts now if no grace is set. */
  async leave(id: string, because: string): Promise<LeaverAnswer> {
    this.ensureAllowed();
    const marked = await this.mark(await this.store.getNamed(id), because);
    return answerOf(await this.actIfDue(marked, Date.now() + REQUEST_ACTION_BUDGET_MS));
  }

  /** Marks every person with this externalId a leaver. */
  async leaveByExternalId(externalId: string, because: string): Promise<LeaverAnswer[]> {
    this.ensureAllowed();
    const records = await this.store.findByExternalId(externalId);
    if (records.length === 0) throw new NotFound(`No invitation has externalId ${JSON.stringify(externalId)}.`);
    const answers: LeaverAnswer[] = [];
    for (const record of records) answers.push(await this.leave(record.id, because));
    return answers;
  }

  /** Marks the people of a stored list leavers (a synced roster's), acting only where the grace allows it now. */
  async leaveAll(stored: readonly StoredRecord[], because: string, deadline: number): Promise<LeaverAnswer[]> {
    this.ensureAllowed();
    const answers: LeaverAnswer[] = [];
    for (const person of stored) answers.push(answerOf(await this.actIfDue(await this.mark(person, because), deadline)));
    return answers;
  }

  /** The tracker's turn: every leaver whose action is due (and not waiting for a retry) is acted on; a dry run only lists them. */
  async actOnDue(deadline: number, { dryRun = false }: { dryRun?: boolean } = {}): Promise<LeaverActed[]> {
    const now = new Date();
    const due = (await this.store.leaversDueBy(now.toISOString())).filter(({ entity }) => !actionWaits(entity, now));
    const acted: LeaverActed[] = [];
    for (const stored of due) {
      const person = {
        id: stored.record.id,
        email: stored.record.email,
        batchId: stored.record.batchId,
        ...(stored.record.externalId ? { externalId: stored.record.externalId } : {}),
      };
      if (dryRun) {
        acted.push({ ...person, action: ACTION_DONE[this.policy.action], reportedOnly: true });
        continue;
      }
      if (Date.now() > deadline) break;
      const after = await this.actIfDue(stored, deadline);
      const { leaverAction, actionError } = after.record;
      acted.push({ ...person, action: leaverAction ?? ACTION_DONE[this.policy.action], ...(actionError ? { failed: actionError } : {}) });
    }
    return acted;
  }

  private ensureAllowed(): void {
    if (!this.policy.allowed)
      throw new NotAllowed(
        'Marking leavers is not allowed: it switches off guests, and only the operator grants it (INVITE_ALLOW_LEAVERS=true, with LEAVER_ACTION and LEAVER_GRACE).',
      );
  }

  /** The person as a leaver: Left, with the action due after the grace when there is a guest to act on. */
  private async mark(first: StoredRecord, because: string): Promise<StoredRecord> {
    for (let stored = first; ; stored = await this.store.getNamed(stored.record.id)) {
      const { record, entity } = stored;
      if (record.status === 'Left') return stored;
      if (record.status === 'Processing')
        throw new Conflict(`Invitation ${record.id} is being sent right now: mark the leaver again in a minute.`, 'in-progress');
      const now = new Date();
      const at = now.toISOString();
      const hasGuest =
        (record.ownedUserId ?? record.invitedUserId) !== undefined && !record.removedAt && record.expiredAction !== 'deleted';
      const next: RecordEntity = {
        ...entity,
        status: 'Left',
        leftAt: at,
        leftBecause: because,
        statusBeforeLeaving: statusBeforeLeaving(stored),
        // A reminder or reset still queued for them is not sent: the claim finds them Left.
        reminderDue: undefined,
        resetRedemptionDue: undefined,
        ...NO_ACTION_REFUSAL,
        ...(hasGuest
          ? { leaverActionDueAt: new Date(now.getTime() + (this.policy.graceMs ?? 0)).toISOString() }
          : { leaverNote: NO_GUEST }),
        updatedAt: at,
      };
      const etag = await this.store.replace(next, stored.etag);
      if (etag) return { ...stored, entity: next, record: recordFromEntity(next), etag };
    }
  }

  /** Carries out the action if it is due now; the record as it then is. */
  private async actIfDue(stored: StoredRecord, deadline: number): Promise<StoredRecord> {
    const { entity, record } = stored;
    const now = new Date();
    if (!entity.leaverActionDueAt || Date.parse(entity.leaverActionDueAt) > now.getTime() || actionWaits(entity, now)) return stored;
    const userId = (record.ownedUserId ?? record.invitedUserId)!;
    const action = ACTION_DONE[this.policy.action];
    if (action === 'reported') return this.settle(stored, { leaverAction: 'reported' });
    const read = await readOwnGuest(this.directory, userId, record);
    if (read.kind === 'failed') return this.refused(stored, read.error, now);
    if (read.kind === 'gone') return this.settle(stored, { leaverNote: NO_GUEST, removedAt: now.toISOString() });
    if (read.kind === 'not-own')
      return this.settle(stored, {
        leaverAction: 'reported',
        leaverNote: 'the user is not a guest this app created (a member, or a guest someone else invited): it is left alone',
      });
    // The intent is written first: a leaver who comes back while the guest is being disabled is
    // enabled again (returnOf reads leaverAction), and one who came back before is not acted on.
    const intent = await this.write(stored, { leaverAction: action, ownedUserId: read.guest.id });
    if (!intent) return stored;
    try {
      await actOnGuest(this.directory, this.writePacer, action, userId, deadline);
    } catch (error) {
      const refusal = actionRefusal(error);
      if (!refusal) throw error;
      return this.refused(intent, refusal, now, { leaverAction: undefined });
    }
    return this.settle(intent, {});
  }

  /** The action done (or nothing to do): it is due no more. Written only if the person is still the leaver we read. */
  private async settle(stored: StoredRecord, fields: Partial<RecordEntity>): Promise<StoredRecord> {
    return (await this.write(stored, { ...fields, leaverActionDueAt: undefined, ...NO_ACTION_REFUSAL })) ?? stored;
  }

  private async refused(
    stored: StoredRecord,
    failure: Parameters<typeof refusedActionFields>[1],
    now: Date,
    fields: Partial<RecordEntity> = {},
  ): Promise<StoredRecord> {
    return (await this.write(stored, { ...fields, ...refusedActionFields(stored.entity, failure, now) })) ?? stored;
  }

  /** The record with these fields, if it is still as read (the caller heard of Left already: no event); undefined otherwise. */
  private async write(stored: StoredRecord, fields: Partial<RecordEntity>): Promise<StoredRecord | undefined> {
    const next: RecordEntity = { ...stored.entity, ...fields, updatedAt: new Date().toISOString() };
    const etag = await this.store.replace(next, stored.etag, { announce: false });
    return etag ? { ...stored, entity: next, record: recordFromEntity(next), etag } : undefined;
  }
}

function statusBeforeLeaving({ record, entity }: StoredRecord): RecordEntity['status'] {
  if (record.status === 'Queued' && (entity.reminderDue || entity.resetRedemptionDue)) return record.acceptedAt ? 'Accepted' : 'Invited';
  return record.status;
}

function answerOf({ record }: StoredRecord): LeaverAnswer {
  return {
    id: record.id,
    status: 'Left',
    leftAt: record.leftAt!,
    ...(record.leaverAction ? { action: record.leaverAction } : {}),
    ...(record.leaverActionDueAt ? { actionDueAt: record.leaverActionDueAt } : {}),
    ...(record.leaverNote ? { note: record.leaverNote } : {}),
    ...(record.actionError ? { error: record.actionError } : {}),
  };
}
