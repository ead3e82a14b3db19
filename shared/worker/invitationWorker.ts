import pRetry from 'p-retry';
import {
  type Log,
  maskEmailAddress,
  toGraphInvitationRequest,
  invitationErrorSchema,
  type InvitationError,
  type InvitationRecord,
} from '../core';
import type { Claim, InvitationClaims, Outcome } from './invitationClaims';
import { claimedInvitation, type ClaimedInvitation } from './claimedInvitation';
import { invitationMessageSchema, type InvitationMessage, type InvitationQueue } from '../storage';
import { GraphCallError, mayHaveActed, type GraphDirectoryClient, type InvitationSender, type SendOutcome } from '../graph';
import type { HealthBoard } from '../healthBoard';
import { InvitationFollowUp } from './invitationFollowUp';
import { isOwnGuest, readOwnGuest } from '../lifecycle';
import type { SponsorCheck } from './sponsorCheck';

/**
 * Gets each queued person to a recorded outcome: claim the record, call Graph through the sender,
 * record what happened. What the host should do next is said by how `process` ends:
 * - it returns: the message is done (invited, refused, already final, or sent again for later);
 * - it throws TransientInvitationError: the host delivers it again after visibilityTimeout, and
 *   moves it to `invitations-poison` at maxDequeueCount (then recordDeadLetter runs).
 */

export interface WorkerOptions {
  /** How long one invocation may keep trying before it hands the message back to the queue. */
  invocationBudgetMs: number;
  health: HealthBoard;
  /** Our own email and the group adds, after Graph's 201. */
  followUp: InvitationFollowUp;
  /** Sponsors are members of the tenant, read before Graph sets them (none: not checked). */
  sponsors?: SponsorCheck;
  /** Reads a guest not yet established as the app's own before its redemption is reset (none: such a reset is refused). */
  guests?: Pick<GraphDirectoryClient, 'readGuests'>;
}

export type ProcessResult = 'invited' | 'failed' | 'already-final' | 'deferred' | 'missing';

export class TransientInvitationError extends Error {
  override readonly name = 'TransientInvitationError';
}

export class InvalidQueueMessageError extends Error {
  override readonly name = 'InvalidQueueMessageError';
}

// A message for a person another invocation holds is looked at again soon (the holder usually
// finishes in well under a second), a few times; after that it waits for the lease to end (plus a
// margin, so it is claimable then) and takes the claim over. It is never dropped: if the holder
// crashed without releasing, this message is what takes over.
const LEASE_MARGIN_MS = 1_000;
const MAX_DEFER_MS = 5_000;
const QUICK_DEFERRALS = 5;
// However short the lease, an outcome Graph gave us is retried at least this long (see recordOutcome).
const RECORD_OUTCOME_MIN_RETRY_MS = 60_000;
// The share of a claim's lease kept for writing the outcome after the last Graph call has ended.
const LEASE_KEPT_FOR_RECORDING = 0.25;

export class InvitationWorker {
  constructor(
    private readonly claims: InvitationClaims,
    private readonly sender: InvitationSender,
    private readonly queue: InvitationQueue,
    private readonly options: WorkerOptions,
  ) {}

  async process(rawMessage: unknown, invocationId: string, log: Log): Promise<ProcessResult> {
    const started = Date.now();
    const message = invitationMessageSchema.safeParse(rawMessage);
    if (!message.success) {
      // Retrying cannot fix it: the host will move it to poison, where it is logged and dropped.
      throw new InvalidQueueMessageError(
        `The queue message is not an invitation message: ${message.error.issues[0]?.message ?? 'invalid'}.`,
      );
    }
    const { id } = message.data;
    const claim = await this.claims.claim(id, invocationId, { reconfirmFinal: !message.data.followUpOnly });
    switch (claim.kind) {
      case 'missing':
        log.warn(`Invitation ${id}: no record; the message is dropped.`);
        return 'missing';
      case 'final':
        log.info(`Invitation ${id}: already ${claim.record.status}; no Graph call.`);
        // The worker that recorded it may have died before its email or group adds: finish them.
        if (InvitationFollowUp.hasPendingWork(claim.record)) await this.completeFollowUp(message.data, log);
        return 'already-final';
      case 'held':
        return this.deferWhileHeld(message.data, claim.leaseUntil, log);
      case 'claimed':
        return this.invite(claimedInvitation(message.data, claim.claim, started), log);
    }
  }

  /** Sends the claimed person's invitation (a first one, a reminder or a reset) and records what Graph said. */
  private async invite(job: ClaimedInvitation, log: Log): Promise<ProcessResult> {
    const { claim, purpose, who } = job;
    const { stored } = claim;
    if (claim.tookOver) log.warn(`Invitation ${who}: took over a claim whose lease expired.`);
    const leaseUntil = Date.parse(stored.entity.leaseUntil!);
    // Calls end well inside the lease, leaving its last part to write the outcome.
    const mustEndBy = leaseUntil - (leaseUntil - job.started) * LEASE_KEPT_FOR_RECORDING;
    if (purpose === 'reset' && !stored.record.ownedUserId) {
      const refusal = await this.ownGuestRefusal(claim, job.resetGuestId!);
      if (refusal) {
        const record = await this.recordOutcome(claim, {
          status: 'Failed',
          calls: 0,
          error: refusal,
          lifecycle: { resetRedemptionDue: undefined },
        });
        log.warn(`Invitation ${who}: Failed ${describe(record)}: ${refusal.message}`);
        return 'failed';
      }
    }
    const request = {
      ...toGraphInvitationRequest(stored.invitation),
      ...(purpose === 'reset' ? { resetRedemption: true, invitedUser: { id: job.resetGuestId! } } : {}),
    };
    if (purpose === 'invitation' && request.invitedUserSponsors && this.options.sponsors) {
      const refusal = await this.checkSponsors(
        request.invitedUserSponsors.map((sponsor) => sponsor.id),
        claim,
        stored.record.id,
      );
      if (refusal) {
        const record = await this.recordOutcome(claim, { status: 'Failed', calls: 0, error: refusal, lifecycle: {} });
        log.warn(`Invitation ${who}: Failed ${describe(record)}: ${refusal.message}, not invited.`);
        return 'failed';
      }
    }
    const previousError = stored.record.error;
    const outcome = await this.sender.send(
      { ...request, sendInvitationMessage: this.options.followUp.graphSendsEmail(job.emailWanted) },
      job.started + this.options.invocationBudgetMs,
      mustEndBy,
      // The guest of a reminder or a reset exists already: a lookup would find them and send nothing.
      {
        mayHaveReachedGraph: purpose === 'invitation' && (claim.tookOver || (previousError !== undefined && mayHaveActed(previousError))),
      },
    );
    switch (outcome.kind) {
      case 'invited':
        if (outcome.created.foundUser?.userType === 'Member') return this.onMemberFound(job, outcome, log);
        return this.onInvited(job, outcome, log);
      case 'refused':
        return this.onRefused(job, outcome, log);
      case 'throttled':
      case 'suspended':
        return this.onWaiting(job, outcome, log);
      case 'paused':
        return this.onPaused(job, outcome, log);
      case 'unavailable':
        return this.onUnavailable(job, outcome, log);
    }
  }

  /**
   * The lookup found a member of this tenant with the address: Graph would refuse the invitation,
   * and the member is never recorded as a guest of ours.
   */
  private async onMemberFound(job: ClaimedInvitation, { created, calls }: Sent<'invited'>, log: Log): Promise<ProcessResult> {
    const record = await this.recordOutcome(job.claim, {
      status: 'Failed',
      calls,
      error: {
        code: 'AlreadyInDirectory',
        message: `A member of this tenant (object id ${created.foundUser!.id}) has this address: it is not invited as a guest.`,
      },
      lifecycle: { reminderDue: undefined },
    });
    log.warn(`Invitation ${job.who}: Failed ${describe(record)}: a member has this address, ${job.elapsed()}.`);
    return 'failed';
  }

  private async onInvited(job: ClaimedInvitation, { created, calls }: Sent<'invited'>, log: Log): Promise<ProcessResult> {
    const { purpose, claim } = job;
    const { stored } = claim;
    const now = new Date().toISOString();
    const reminderNumber = (stored.record.remindersSent ?? 0) + 1;
    const lifecycle = {
      invitation: { invitedAt: now },
      reminder: { remindersSent: reminderNumber, lastRemindedAt: now, reminderDue: undefined },
      reset: { resetRedemptionDue: undefined, redemptionResetAt: now, externalUserState: 'PendingAcceptance', acceptedAt: undefined },
    }[purpose];
    const pendingWork = this.options.followUp.pendingWork(stored, { emailWanted: job.emailWanted, reminder: purpose !== 'invitation' });
    // Whether the guest is ours is settled where its creation time is known (lifecycle/guestOwnership.ts):
    // now for a guest the lookup found, on the tracker's first read otherwise.
    const attempt = purpose === 'invitation' ? { attemptQueuedAt: stored.record.queuedAt } : {};
    const owned =
      purpose === 'reset'
        ? { ownedUserId: job.resetGuestId! } // checked before the reset (ownGuestRefusal), or established before
        : created.foundUser && isOwnGuest(created.foundUser, { ...stored.record, ...attempt, invitedUserId: created.foundUser.id })
          ? { ownedUserId: created.foundUser.id }
          : {};
    await this.recordOutcome(claim, { ...created, ...pendingWork, ...attempt, status: 'Invited', calls, lifecycle, fields: owned });
    const how = created.detailsMissing
      ? ' (Graph answered 201 but its body was lost: details missing, not called again)'
      : created.foundByLookup
        ? ' (an earlier call had reached Graph: the lookup found the guest, no second invitation)'
        : { invitation: '', reminder: ` (reminder ${reminderNumber})`, reset: ' (the redemption of its guest reset)' }[purpose];
    const line = `Invitation ${job.who}: Invited${how}, graphRequestId=${created.graphRequestId ?? '-'}, ${calls} call(s), ${job.elapsed()}.`;
    if (created.detailsMissing) log.warn(line);
    else log.info(line);
    // Only when there is something to do: most invitations need no further storage call.
    if (Object.keys(pendingWork).length > 0) await this.completeFollowUp(job.message, log);
    return 'invited';
  }

  private async onRefused(job: ClaimedInvitation, { error, calls }: Sent<'refused'>, log: Log): Promise<ProcessResult> {
    const record = await this.recordOutcome(job.claim, {
      status: 'Failed',
      calls,
      error: errorOf(error),
      lifecycle: { reminderDue: undefined, resetRedemptionDue: undefined },
    });
    log.warn(
      `Invitation ${job.who}: Failed ${describe(record)}, graphRequestId=${error.graphRequestId ?? '-'}, ${calls} call(s), ${job.elapsed()}.`,
    );
    return 'failed';
  }

  /** Throttled, or waiting for the app's sign-in: neither is a failure of the message, which comes back later without burning a dequeue. */
  private async onWaiting(job: ClaimedInvitation, outcome: Sent<'throttled' | 'suspended'>, log: Log): Promise<ProcessResult> {
    await this.handBack(job, outcome);
    if (outcome.kind === 'suspended' && outcome.announcement) log.error(outcome.announcement);
    const why = outcome.kind === 'throttled' ? 'throttled' : `waiting for Graph sign-in (${outcome.error.code})`;
    log.info(`Invitation ${job.who}: ${why}; queued again to run in ${Math.ceil(outcome.waitMs / 1000)} s, ${job.elapsed()}.`);
    return 'deferred';
  }

  /**
   * Nobody is failed for a pause: the person stays Queued (the refused one with Graph's answer),
   * and the message comes back when the pause may have ended. No dequeue is burned.
   */
  private async onPaused(job: ClaimedInvitation, outcome: Sent<'paused'>, log: Log): Promise<ProcessResult> {
    await this.handBack(job, outcome);
    const { pause } = outcome;
    const line = `Invitation ${job.who}: sending is paused (${pause.kind}${pause.code ? `, ${pause.code}` : ''}); queued again to run in ${Math.ceil(outcome.waitMs / 1000)} s, ${job.elapsed()}.`;
    if (outcome.error) log.error(`${line} ${pause.reason}`);
    else log.info(line);
    return 'deferred';
  }

  /** Still failing after the sender's retries: the queue delivers the message again, counting a dequeue. */
  private async onUnavailable(job: ClaimedInvitation, { error, calls }: Sent<'unavailable'>, log: Log): Promise<never> {
    await this.claims.record(job.claim, { status: 'Queued', calls, error: errorOf(error) });
    log.warn(
      `Invitation ${job.who}: Graph unavailable (${error.code}), graphRequestId=${error.graphRequestId ?? '-'}, ${calls} call(s), ${job.elapsed()}; the queue will retry.`,
    );
    throw new TransientInvitationError(`Graph did not accept invitation ${job.claim.stored.record.id} yet: ${error.code}.`);
  }

  /** The person Queued again (with the error that held them, if any), and their message back after `waitMs`. */
  private async handBack(
    job: ClaimedInvitation,
    outcome: { calls: number; waitMs: number; error?: GraphCallError | undefined },
  ): Promise<void> {
    await this.claims.record(job.claim, {
      status: 'Queued',
      calls: outcome.calls,
      ...(outcome.error ? { error: errorOf(outcome.error) } : {}),
    });
    await this.queue.send({ ...job.message, deferrals: 0 }, outcome.waitMs / 1000);
  }

  /** The sponsors' refusal, if any; a read that failed for a while hands the person back to the queue. */
  private async checkSponsors(sponsorIds: string[], claim: Claim, id: string): Promise<InvitationError | undefined> {
    try {
      return await this.options.sponsors!.refusal(sponsorIds);
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      await this.claims.record(claim, { status: 'Queued', calls: 0, error: errorOf(error) });
      throw new TransientInvitationError(`The sponsors of invitation ${id} could not be read yet: ${error.code}.`);
    }
  }

  /**
   * A reset acts only on the guest this app created (lifecycle/guestOwnership.ts): one not yet
   * established as the app's own is read first. Its refusal, or undefined when it is the app's; a
   * read that fails hands the person back to the queue.
   */
  private async ownGuestRefusal(claim: Claim, userId: string): Promise<InvitationError | undefined> {
    if (!this.options.guests)
      return { code: 'GuestNotVerified', message: 'The app cannot read the guest to know it created it: nothing was reset.' };
    const read = await readOwnGuest(this.options.guests, userId, claim.stored.record);
    if (read.kind === 'failed') {
      await this.claims.record(claim, { status: 'Queued', calls: 0, error: errorOf(read.error) });
      throw new TransientInvitationError(`The guest of invitation ${claim.stored.record.id} could not be read yet: ${read.error.code}.`);
    }
    if (read.kind === 'gone')
      return { code: 'GuestNotFound', message: `The guest ${userId} no longer exists: its redemption cannot be reset.` };
    if (read.kind === 'not-own')
      return {
        code: 'NotOwnGuest',
        message:
          'The user is not a guest this app created (a member, or a guest someone else invited): the app resets only its own guests.',
      };
    return undefined;
  }

  /** The follow-up steps; those waiting for the app's sign-in come back with the message, handed back with a delay. */
  private async completeFollowUp(message: InvitationMessage, log: Log): Promise<void> {
    const { waitMs } = await this.options.followUp.complete(message.id, log);
    if (waitMs) await this.queue.send({ ...message, deferrals: 0, followUpOnly: true }, waitMs / 1000);
  }

  /**
   * Another invocation holds the person: look again shortly, QUICK_DEFERRALS times, then once more
   * when its lease has ended, when the claim can be taken over. So a message is deferred a bounded
   * number of times per lease, and never loops.
   */
  private async deferWhileHeld(message: InvitationMessage, leaseUntil: number, log: Log): Promise<ProcessResult> {
    const deferrals = (message.deferrals ?? 0) + 1;
    const untilClaimable = leaseUntil - Date.now() + LEASE_MARGIN_MS;
    const waitMs = deferrals <= QUICK_DEFERRALS ? Math.min(untilClaimable, MAX_DEFER_MS) : untilClaimable;
    await this.queue.send({ ...message, deferrals }, Math.max(1, waitMs) / 1000);
    log.info(
      `Invitation ${message.id}: claimed by another invocation; looked at again in ${Math.ceil(waitMs / 1000)} s (deferral ${deferrals}).`,
    );
    return 'deferred';
  }

  /**
   * Writes a final outcome, retrying through a storage outage for as long as our claim lasts, and
   * at least RECORD_OUTCOME_MIN_RETRY_MS: after Graph has answered, giving up would hand the person
   * to another worker, which would call Graph again. While storage is down nobody can take the
   * claim over, so outliving a short lease costs nothing; the outcome is written unconditionally.
   */
  private async recordOutcome(claim: Claim, outcome: Outcome): Promise<InvitationRecord> {
    const leaseUntil = Date.parse(claim.stored.entity.leaseUntil ?? '') || 0;
    const record = await pRetry(() => this.claims.record(claim, outcome), {
      retries: 1_000,
      minTimeout: 250,
      maxTimeout: 5_000,
      maxRetryTime: Math.max(RECORD_OUTCOME_MIN_RETRY_MS, leaseUntil - Date.now()),
    });
    this.options.health.outcomeRecorded();
    return record;
  }

  /** The poison queue's message: the person is DeadLettered with the last error we saw. */
  async deadLetter(rawMessage: unknown, log: Log): Promise<void> {
    const message = invitationMessageSchema.safeParse(rawMessage);
    if (!message.success) {
      log.error('A poison message that is not an invitation message was dropped.');
      return;
    }
    const record = await this.claims.deadLetter(message.data.id);
    if (!record) log.warn(`Invitation ${message.data.id}: poison message without a record; dropped.`);
    else log.error(`Invitation ${record.id} (${maskEmailAddress(record.email)}): ${record.status} ${describe(record)}.`);
  }
}

/** What the sender's outcome of one kind holds. */
type Sent<Kind extends SendOutcome['kind']> = Extract<SendOutcome, { kind: Kind }>;

/** The error as a record keeps it: a GraphCallError's own fields (code, message, HTTP status, request id). */
function errorOf(error: GraphCallError): InvitationError {
  return invitationErrorSchema.parse(error);
}

function describe(record: InvitationRecord): string {
  return record.error ? `(${record.error.httpStatus ?? '-'} ${record.error.code})` : '';
}
