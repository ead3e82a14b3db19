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
import { invitationMessageSchema, type InvitationMessage, type InvitationQueue } from '../storage';
import { GraphCallError, mayHaveActed, type InvitationSender } from '../graph';
import type { HealthBoard } from '../healthBoard';
import { InvitationFollowUp } from './invitationFollowUp';
import { isOwnGuest } from '../lifecycle';
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
        break;
    }

    const { stored } = claim.claim;
    const who = `${id} (${maskEmailAddress(stored.record.email)})`;
    if (claim.claim.tookOver) log.warn(`Invitation ${who}: took over a claim whose lease expired.`);
    const leaseUntil = Date.parse(stored.entity.leaseUntil!);
    // Calls end well inside the lease, leaving its last part to write the outcome.
    const mustEndBy = leaseUntil - (leaseUntil - started) * LEASE_KEPT_FOR_RECORDING;
    // A reminder is Graph's invitation sent again to the existing guest, with its email this time.
    const reminder = stored.entity.reminderDue === true;
    // An operator's reset of the guest this app created (lifecycle/redemptionReset.ts): the same
    // user object is redeemed again; like a reminder, it never creates anyone, so it is never looked up.
    const reset = stored.entity.resetRedemptionDue === true && stored.record.ownedUserId !== undefined;
    const request = {
      ...toGraphInvitationRequest(stored.invitation),
      ...(reset ? { resetRedemption: true, invitedUser: { id: stored.record.ownedUserId! } } : {}),
    };
    // With INVITE_DELIVERY=mail Graph sends nothing, and we send ours once it has answered.
    const emailWanted = reminder || request.sendInvitationMessage;
    const previousError = stored.record.error;
    if (!reminder && !reset && request.invitedUserSponsors && this.options.sponsors) {
      const refusal = await this.checkSponsors(
        request.invitedUserSponsors.map((sponsor) => sponsor.id),
        claim.claim,
        id,
      );
      if (refusal) {
        const record = await this.recordOutcome(claim.claim, { status: 'Failed', calls: 0, error: refusal, lifecycle: {} });
        log.warn(`Invitation ${who}: Failed ${describe(record)}: ${refusal.message}, not invited.`);
        return 'failed';
      }
    }
    const outcome = await this.sender.send(
      { ...request, sendInvitationMessage: this.options.followUp.graphSendsEmail(emailWanted) },
      started + this.options.invocationBudgetMs,
      mustEndBy,
      // The guest of a reminder exists already: a lookup would find them and send nothing.
      {
        mayHaveReachedGraph: !reminder && !reset && (claim.claim.tookOver || (previousError !== undefined && mayHaveActed(previousError))),
      },
    );
    const now = new Date().toISOString();
    const elapsed = () => `${Date.now() - started} ms`;
    const handBack = { ...message.data, deferrals: 0 };

    switch (outcome.kind) {
      case 'invited': {
        const { created } = outcome;
        if (created.foundUser?.userType === 'Member') {
          // The address belongs to a member of this tenant: Graph would refuse the invitation, and
          // the member is never recorded as a guest of ours.
          const record = await this.recordOutcome(claim.claim, {
            status: 'Failed',
            calls: outcome.calls,
            error: {
              code: 'AlreadyInDirectory',
              message: `A member of this tenant (object id ${created.foundUser.id}) has this address: it is not invited as a guest.`,
            },
            lifecycle: { reminderDue: undefined },
          });
          log.warn(`Invitation ${who}: Failed ${describe(record)}: a member has this address, ${elapsed()}.`);
          return 'failed';
        }
        const lifecycle = reset
          ? { resetRedemptionDue: undefined, redemptionResetAt: now, externalUserState: 'PendingAcceptance', acceptedAt: undefined }
          : reminder
            ? { remindersSent: (stored.record.remindersSent ?? 0) + 1, lastRemindedAt: now, reminderDue: undefined }
            : { invitedAt: now };
        const pendingWork = this.options.followUp.pendingWork(stored, { emailWanted, reminder: reminder || reset });
        // Whether the guest is ours is settled where its creation time is known (lifecycle/guestOwnership.ts):
        // now for a guest the lookup found, on the tracker's first read otherwise.
        const attempt = reminder || reset ? {} : { attemptQueuedAt: stored.record.queuedAt };
        const owned =
          created.foundUser && isOwnGuest(created.foundUser, { ...stored.record, ...attempt, invitedUserId: created.foundUser.id })
            ? { ownedUserId: created.foundUser.id }
            : {};
        await this.recordOutcome(claim.claim, {
          ...created,
          ...pendingWork,
          ...attempt,
          status: 'Invited',
          calls: outcome.calls,
          lifecycle,
          fields: owned,
        });
        const missing = created.detailsMissing
          ? ' (Graph answered 201 but its body was lost: details missing, not called again)'
          : created.foundByLookup
            ? ' (an earlier call had reached Graph: the lookup found the guest, no second invitation)'
            : reset
              ? ' (redemption reset by an operator)'
              : reminder
                ? ` (reminder ${(stored.record.remindersSent ?? 0) + 1})`
                : '';
        const line = `Invitation ${who}: Invited${missing}, graphRequestId=${created.graphRequestId ?? '-'}, ${outcome.calls} call(s), ${elapsed()}.`;
        if (created.detailsMissing) log.warn(line);
        else log.info(line);
        // Only when there is something to do: most invitations need no further storage call.
        if (Object.keys(pendingWork).length > 0) await this.completeFollowUp(message.data, log);
        return 'invited';
      }
      case 'refused': {
        const record = await this.recordOutcome(claim.claim, {
          status: 'Failed',
          calls: outcome.calls,
          error: errorOf(outcome.error),
          lifecycle: { reminderDue: undefined, resetRedemptionDue: undefined },
        });
        log.warn(
          `Invitation ${who}: Failed ${describe(record)}, graphRequestId=${outcome.error.graphRequestId ?? '-'}, ${outcome.calls} call(s), ${elapsed()}.`,
        );
        return 'failed';
      }
      case 'throttled':
      case 'suspended': {
        // Neither is a failure of the message: hand it back with a delay instead of burning a dequeue.
        await this.handBack(claim.claim, outcome, handBack);
        if (outcome.kind === 'suspended' && outcome.announcement) log.error(outcome.announcement);
        const why = outcome.kind === 'throttled' ? 'throttled' : `waiting for Graph sign-in (${outcome.error.code})`;
        log.info(`Invitation ${who}: ${why}; queued again to run in ${Math.ceil(outcome.waitMs / 1000)} s, ${elapsed()}.`);
        return 'deferred';
      }
      case 'paused': {
        // Nobody is failed for a pause: the person stays Queued (the refused one with Graph's
        // answer), and the message comes back when the pause may have ended. No dequeue is burned.
        await this.handBack(claim.claim, outcome, handBack);
        const line = `Invitation ${who}: sending is paused (${outcome.pause.kind}${outcome.pause.code ? `, ${outcome.pause.code}` : ''}); queued again to run in ${Math.ceil(outcome.waitMs / 1000)} s, ${elapsed()}.`;
        if (outcome.error) log.error(`${line} ${outcome.pause.reason}`);
        else log.info(line);
        return 'deferred';
      }
      case 'unavailable': {
        await this.claims.record(claim.claim, { status: 'Queued', calls: outcome.calls, error: errorOf(outcome.error) });
        log.warn(
          `Invitation ${who}: Graph unavailable (${outcome.error.code}), graphRequestId=${outcome.error.graphRequestId ?? '-'}, ${outcome.calls} call(s), ${elapsed()}; the queue will retry.`,
        );
        throw new TransientInvitationError(`Graph did not accept invitation ${id} yet: ${outcome.error.code}.`);
      }
    }
  }

  /** The person Queued again (with the error that held them, if any), and their message back after `waitMs`. */
  private async handBack(
    claim: Claim,
    outcome: { calls: number; waitMs: number; error?: GraphCallError | undefined },
    message: InvitationMessage,
  ): Promise<void> {
    await this.claims.record(claim, {
      status: 'Queued',
      calls: outcome.calls,
      ...(outcome.error ? { error: errorOf(outcome.error) } : {}),
    });
    await this.queue.send(message, outcome.waitMs / 1000);
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

/** The error as a record keeps it: a GraphCallError's own fields (code, message, HTTP status, request id). */
function errorOf(error: GraphCallError): InvitationError {
  return invitationErrorSchema.parse(error);
}

function describe(record: InvitationRecord): string {
  return record.error ? `(${record.error.httpStatus ?? '-'} ${record.error.code})` : '';
}
