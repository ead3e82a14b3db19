import { GraphCallError, MAX_BATCH_REQUESTS, type GraphDirectoryClient, type GuestRead, type GraphPacer } from '../graph';
import type { ExpiredAction } from '../core';
import { type InvitationQueue, type InvitationStore, type StoredRecord, NO_CLAIM, type RecordEntity } from '../storage';
import type { ExpiryPolicyMemory } from './expiryPolicyMemory';
import { isOwnGuest } from './guestOwnership';
import type { Leavers } from './leavers';
import { ACTION_DONE, actionRefusal, actionWaits, actOnGuest, NO_ACTION_REFUSAL, refusedActionFields } from './guestActions';

/**
 * What became of each invited person, read from Graph (`trackRedemptions`, and the admin route
 * `POST /api/lifecycle/run`). People are read 20 to a `$batch`, the least recently read first,
 * within the app's read budget (graph/readBudget.ts, GRAPH_MAX_READS_PER_SECOND). Then:
 * - a guest who redeemed becomes Accepted; a guest deleted meanwhile becomes Removed;
 * - one pending past EXPIRE_AFTER is Expired by EXPIRED_ACTION (report, disable, delete), and
 *   only the guest this pipeline's own invitation created (guestOwnership.ts), never one who accepted;
 * - one pending past REMINDER_AFTER (since the invitation or the last reminder) is queued for a
 *   reminder, at most REMINDER_MAX times: the worker sends it through the same claim and pacer.
 * A dry run reads the same and changes nothing: it says who would be affected.
 */

export interface LifecyclePolicy {
  reminderAfterMs?: number;
  reminderMax: number;
  expireAfterMs?: number;
  expiredAction: 'report' | 'disable' | 'delete';
}

export interface RedemptionTrackerOptions {
  policy: LifecyclePolicy;
  /** How long one run may read before it stops cleanly (the rest waits for the next run). */
  budgetMs: number;
  /** Which expiry policy the timer has already run under: a new one is reported first (runOnSchedule). */
  policyMemory?: ExpiryPolicyMemory;
  /** Leavers whose LEAVER_ACTION is due (after LEAVER_GRACE, or refused before) are acted on in each run. */
  leavers?: Pick<Leavers, 'actOnDue'>;
}

export type LifecycleChange = 'accepted' | 'removed' | 'expired' | 'reminded' | 'left';

export interface AffectedPerson {
  id: string;
  email: string;
  batchId: string;
  externalId?: string;
  invitedAt?: string;
  change: LifecycleChange;
  /** For `expired` and `left`: what is (or would be) done to the guest. */
  action?: ExpiredAction;
  /** For `expired` and `left`: only reported, not done (a dry run, or the first scheduled run under a new expiry policy). */
  reportedOnly?: true;
  /** For `expired` and `left`: Graph refused the action (its reason); it is tried again on a later run. */
  failed?: string;
}

export interface TrackerRun {
  dryRun: boolean;
  /** People whose guest was read. */
  read: number;
  /** Still pending, nothing due. */
  pending: number;
  affected: AffectedPerson[];
  /** Why the run stopped before reading everyone (throttled, out of time, permission missing). */
  stoppedBecause?: string;
  /** Why expiry was only reported in a run that changed everything else. */
  expiryReportedOnly?: string;
}

export interface RunOptions {
  /** Change nothing anywhere: say who would be affected. @default false */
  dryRun?: boolean;
  /** Report who would expire, and change nothing for them (the rest is applied). @default false */
  reportExpiryOnly?: boolean;
}

export class RedemptionTracker {
  constructor(
    private readonly store: InvitationStore,
    private readonly queue: InvitationQueue,
    private readonly directory: GraphDirectoryClient,
    /** The write budget's pacer: disabling and deleting guests are writes. */
    private readonly writePacer: GraphPacer,
    private readonly options: RedemptionTrackerOptions,
  ) {}

  /**
   * The timer's run. Its first run under an expiry policy it has not run under (EXPIRE_AFTER just
   * set, or EXPIRED_ACTION changed) reports who would expire and expires nobody; the next applies it.
   */
  async runOnSchedule(): Promise<TrackerRun> {
    const { policy, policyMemory } = this.options;
    if (policy.expireAfterMs === undefined || !policyMemory) return this.run();
    const key = `${policy.expireAfterMs}|${policy.expiredAction}`;
    if (await policyMemory.hasSeen(key)) return this.run();
    const run = await this.run({ reportExpiryOnly: true });
    await policyMemory.remember(key);
    return {
      ...run,
      expiryReportedOnly:
        'the first scheduled run under this EXPIRE_AFTER and EXPIRED_ACTION only reports who would expire; the next run expires them',
    };
  }

  async run({ dryRun = false, reportExpiryOnly = false }: RunOptions = {}): Promise<TrackerRun> {
    const deadline = Date.now() + this.options.budgetMs;
    const run: TrackerRun = { dryRun, read: 0, pending: 0, affected: [] };
    const people = (await this.store.awaitingAcceptance())
      .filter(({ entity }) => !entity.reminderDue)
      .sort((a, b) => lastRead(a).localeCompare(lastRead(b)));
    for (let start = 0; start < people.length; start += MAX_BATCH_REQUESTS) {
      if (Date.now() > deadline) {
        run.stoppedBecause = `the run's time budget ended; ${people.length - start} people wait for the next run`;
        break;
      }
      const chunk = people.slice(start, start + MAX_BATCH_REQUESTS);
      let reads: Map<string, GuestRead>;
      try {
        reads = await this.readChunk(chunk);
      } catch (error) {
        if (!(error instanceof GraphCallError)) throw error;
        run.stoppedBecause = stopReason(error);
        break;
      }
      for (const stored of chunk) {
        const read = reads.get(stored.record.id);
        if (!read || read.kind === 'failed') continue;
        run.read += 1;
        const affected = await this.follow(stored, read, { dryRun, reportExpiryOnly }, deadline);
        if (affected) run.affected.push(affected);
        else run.pending += 1;
      }
      const throttled = [...reads.values()].find((read) => read.kind === 'failed');
      if (throttled?.kind === 'failed') {
        run.stoppedBecause = stopReason(throttled.error);
        break;
      }
    }
    // Leavers whose action is due: their guests are read one by one, within what is left of the run.
    for (const leaver of (await this.options.leavers?.actOnDue(deadline, { dryRun })) ?? [])
      run.affected.push({ ...leaver, change: 'left' });
    return run;
  }

  /** The chunk's guests by record id: one `$batch` for those whose user id we know, a lookup by email for the others. */
  private async readChunk(chunk: readonly StoredRecord[]): Promise<Map<string, GuestRead>> {
    const reads = new Map<string, GuestRead>();
    const known = chunk.filter(({ record }) => record.invitedUserId);
    if (known.length > 0) {
      const byUser = await this.directory.readGuests(known.map(({ record }) => record.invitedUserId!));
      for (const { record } of known) {
        const read = byUser.get(record.invitedUserId!);
        if (read) reads.set(record.id, read);
      }
    }
    // Graph's 201 was lost (detailsMissing): the guest exists, found by email. Not found yet is not "deleted".
    for (const { record } of chunk.filter(({ record }) => !record.invitedUserId)) {
      const guest = await this.directory.findByEmail(record.email);
      if (guest) reads.set(record.id, { kind: 'found', guest });
    }
    return reads;
  }

  /** Applies (or, in a dry run, describes) what the read says is due for one person. */
  private async follow(
    stored: StoredRecord,
    read: GuestRead,
    { dryRun, reportExpiryOnly }: Required<RunOptions>,
    deadline: number,
  ): Promise<AffectedPerson | undefined> {
    const { entity } = stored;
    const now = new Date();
    const at = now.toISOString();
    const person = describePerson(entity);
    if (read.kind === 'deleted') {
      if (!dryRun) await this.write(stored, { status: 'Removed', removedAt: at, checkedAt: at });
      return { ...person, change: 'removed' };
    }
    if (read.kind !== 'found') return undefined;
    const { guest } = read;
    const own = isOwnGuest(guest, stored.record);
    const seen = {
      checkedAt: at,
      externalUserState: guest.externalUserState ?? undefined,
      invitedUserId: guest.id,
      // Settled on the first read that shows the guest's creation (guestOwnership.ts), then kept across attempts.
      ...(own ? { ownedUserId: guest.id } : {}),
    };
    if (guest.externalUserState === 'Accepted') {
      if (!dryRun) await this.write(stored, { ...seen, status: 'Accepted', acceptedAt: guest.externalUserStateChangeDateTime ?? at });
      return { ...person, change: 'accepted' };
    }
    const { policy } = this.options;
    // Counted from the invitation alone: a record that does not say when its guest was invited
    // (written before invitedAt was kept) is never expired on a guess such as its last update.
    const invitedAt = entity.invitedAt ? Date.parse(entity.invitedAt) : Number.NaN;
    const expiryDue =
      policy.expireAfterMs !== undefined && entity.status === 'Invited' && now.getTime() - invitedAt >= policy.expireAfterMs;
    if (expiryDue && own) {
      const action = ACTION_DONE[policy.expiredAction];
      if (dryRun || reportExpiryOnly) {
        if (!dryRun) await this.store.touch({ ...entity, ...seen }, stored.etag);
        return { ...person, change: 'expired', action, reportedOnly: true };
      }
      if (action !== 'reported') {
        // A refusal (no permission, throttled, a user the app may not change) is this person's alone:
        // recorded with its reason and tried again later, while the run goes on with the others.
        if (actionWaits(entity, now)) {
          await this.store.touch({ ...entity, ...seen }, stored.etag); // read now: it sorts behind the others next run
          return { ...person, change: 'expired', action, ...(entity.actionError ? { failed: entity.actionError } : {}) };
        }
        const failure = await actOnGuest(this.directory, this.writePacer, action, guest.id, deadline).then(
          () => undefined,
          (error: unknown) => {
            const refusal = actionRefusal(error);
            if (!refusal) throw error;
            return refusal;
          },
        );
        if (failure) {
          const refused = refusedActionFields(entity, failure, now);
          await this.store.touch({ ...entity, ...seen, ...refused }, stored.etag);
          return { ...person, change: 'expired', action, failed: refused.actionError! };
        }
      }
      await this.write(stored, {
        ...seen,
        status: 'Expired',
        expiredAt: at,
        expiredAction: action,
        ...NO_ACTION_REFUSAL,
      });
      return { ...person, change: 'expired', action };
    }
    const remindedAt = Date.parse(entity.lastRemindedAt ?? entity.invitedAt ?? entity.updatedAt);
    const reminderDue =
      policy.reminderAfterMs !== undefined &&
      entity.status === 'Invited' &&
      (entity.remindersSent ?? 0) < policy.reminderMax &&
      now.getTime() - remindedAt >= policy.reminderAfterMs;
    if (reminderDue) {
      if (!dryRun) await this.queueReminder(stored, seen, at);
      return { ...person, change: 'reminded' };
    }
    if (!dryRun) await this.store.touch({ ...entity, ...seen }, stored.etag);
    return undefined;
  }

  /** Queued again as a reminder: the worker claims it and asks Graph to send the invitation email again. */
  private async queueReminder(stored: StoredRecord, seen: Partial<RecordEntity>, at: string): Promise<void> {
    const next: RecordEntity = { ...stored.entity, ...seen, ...NO_CLAIM, status: 'Queued', reminderDue: true, queuedAt: at, updatedAt: at };
    if (!(await this.store.replace(next, stored.etag))) return; // changed meanwhile: the next run decides again
    // Lost between the two writes, the message is restored by the stranded sweep (the record is Queued).
    await this.queue.send({ id: next.id, batchId: next.batchId, queuedAt: at });
  }

  /** A new status, as a compare-and-swap: a record changed since it was read (a new submission, the worker) is left for the next run. */
  private async write(stored: StoredRecord, fields: Partial<RecordEntity>): Promise<void> {
    await this.store.replace({ ...stored.entity, ...fields, updatedAt: new Date().toISOString() }, stored.etag);
  }
}

function lastRead({ entity }: StoredRecord): string {
  return entity.checkedAt ?? entity.invitedAt ?? entity.updatedAt;
}

function describePerson(entity: RecordEntity): Omit<AffectedPerson, 'change'> {
  return {
    id: entity.id,
    email: entity.email,
    batchId: entity.batchId,
    ...(entity.externalId ? { externalId: entity.externalId } : {}),
    ...(entity.invitedAt ? { invitedAt: entity.invitedAt } : {}),
  };
}

function stopReason(error: GraphCallError): string {
  if (error.kind === 'credential' || error.httpStatus === 403)
    return `Graph refused to read users (${error.code}): grant the app User.Read.All (Application) with scripts/grant-graph-permission.sh`;
  if (error.kind === 'throttled') return `Graph throttled the reads (retry after ${Math.ceil((error.retryAfterMs ?? 1000) / 1000)} s)`;
  return `Graph failed (${error.code}); the next run goes on`;
}
