import { maskEmailAddress } from './emailAddress';
import { toGraphInvitationRequest } from './invitation';
import pRetry from 'p-retry';
import type { Claim, InvitationClaims, Outcome } from './invitationClaims';
import { invitationMessageSchema, type InvitationQueue } from './invitationQueue';
import type { InvitationError, InvitationRecord } from './invitationRecord';
import type { GraphCallError } from './graph/graphCallError';
import type { InvitationSender } from './graph/invitationSender';

/**
 * Gets each queued person to a recorded outcome: claim the record, call Graph through the sender,
 * record what happened. What the host should do next is said by how `process` ends:
 * - it returns: the message is done (invited, refused, already final, or sent again for later);
 * - it throws TransientInvitationError: the host delivers it again after visibilityTimeout, and
 *   moves it to `invitations-poison` at maxDequeueCount (then recordDeadLetter runs).
 */

export interface WorkerLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface WorkerOptions {
  /** How long one invocation may keep trying before it hands the message back to the queue. */
  invocationBudgetMs: number;
}

export type ProcessResult = 'invited' | 'failed' | 'already-final' | 'deferred' | 'missing';

export class TransientInvitationError extends Error {
  override readonly name = 'TransientInvitationError';
}

export class InvalidQueueMessageError extends Error {
  override readonly name = 'InvalidQueueMessageError';
}

// After Graph has answered, the outcome must be written: storage being down for a while must not
// turn a made call into a redelivery that calls Graph again. Keep trying for this long.
const RECORD_OUTCOME_RETRY_MS = 60_000;

// A message for a person another invocation holds is looked at again after the lease (plus a
// margin, so it is claimable then), or sooner: the holder usually finishes in well under a second.
// It is never dropped: if the holder crashed without releasing, this message is what takes over.
const LEASE_MARGIN_MS = 1_000;
const MAX_DEFER_MS = 5_000;

export class InvitationWorker {
  constructor(
    private readonly claims: InvitationClaims,
    private readonly sender: InvitationSender,
    private readonly queue: InvitationQueue,
    private readonly options: WorkerOptions,
  ) {}

  async process(rawMessage: unknown, invocationId: string, log: WorkerLog): Promise<ProcessResult> {
    const started = Date.now();
    const message = invitationMessageSchema.safeParse(rawMessage);
    if (!message.success) {
      // Retrying cannot fix it: the host will move it to poison, where it is logged and dropped.
      throw new InvalidQueueMessageError(`The queue message is not an invitation message: ${message.error.issues[0]?.message ?? 'invalid'}.`);
    }
    const { id } = message.data;
    const claim = await this.claims.claim(id, invocationId);
    switch (claim.kind) {
      case 'missing':
        log.warn(`Invitation ${id}: no record; the message is dropped.`);
        return 'missing';
      case 'final':
        log.info(`Invitation ${id}: already ${claim.record.status}; no Graph call.`);
        return 'already-final';
      case 'held': {
        const waitMs = Math.min(claim.leaseUntil - Date.now() + LEASE_MARGIN_MS, MAX_DEFER_MS);
        await this.queue.send(message.data, waitMs / 1000);
        log.info(`Invitation ${id}: claimed by another invocation; looked at again in ${Math.ceil(waitMs / 1000)} s.`);
        return 'deferred';
      }
      case 'claimed':
        break;
    }

    const { stored } = claim.claim;
    const who = `${id} (${maskEmailAddress(stored.record.email)})`;
    if (claim.claim.tookOver) log.warn(`Invitation ${who}: took over a claim whose lease expired.`);
    const outcome = await this.sender.send(toGraphInvitationRequest(stored.invitation), started + this.options.invocationBudgetMs);
    const elapsed = () => `${Date.now() - started} ms`;

    switch (outcome.kind) {
      case 'invited': {
        const { created } = outcome;
        await this.recordOutcome(claim.claim, {
          status: 'Invited',
          calls: outcome.calls,
          invitedUserId: created.invitedUserId,
          inviteRedeemUrl: created.inviteRedeemUrl,
          graphStatus: created.graphStatus,
          ...(created.graphRequestId ? { graphRequestId: created.graphRequestId } : {}),
        });
        log.info(`Invitation ${who}: Invited, graphRequestId=${created.graphRequestId ?? '-'}, ${outcome.calls} call(s), ${elapsed()}.`);
        return 'invited';
      }
      case 'refused': {
        const record = await this.recordOutcome(claim.claim, { status: 'Failed', calls: outcome.calls, error: errorOf(outcome.error) });
        log.warn(`Invitation ${who}: Failed ${describe(record)}, graphRequestId=${outcome.error.graphRequestId ?? '-'}, ${outcome.calls} call(s), ${elapsed()}.`);
        return 'failed';
      }
      case 'throttled': {
        // Throttling is no failure of the message: hand it back with a delay instead of burning a dequeue.
        await this.claims.record(claim.claim, { status: 'Queued', calls: outcome.calls, ...(outcome.error ? { error: errorOf(outcome.error) } : {}) });
        await this.queue.send(message.data, outcome.waitMs / 1000);
        log.info(`Invitation ${who}: throttled; queued again to run in ${Math.ceil(outcome.waitMs / 1000)} s, ${elapsed()}.`);
        return 'deferred';
      }
      case 'unavailable': {
        await this.claims.record(claim.claim, { status: 'Queued', calls: outcome.calls, error: errorOf(outcome.error) });
        log.warn(`Invitation ${who}: Graph unavailable (${outcome.error.code}), graphRequestId=${outcome.error.graphRequestId ?? '-'}, ${outcome.calls} call(s), ${elapsed()}; the queue will retry.`);
        throw new TransientInvitationError(`Graph did not accept invitation ${id} yet: ${outcome.error.code}.`);
      }
    }
  }

  /** Writes a final outcome, retrying through a storage outage (see RECORD_OUTCOME_RETRY_MS). */
  private recordOutcome(claim: Claim, outcome: Outcome): Promise<InvitationRecord> {
    return pRetry(() => this.claims.record(claim, outcome), { retries: 20, minTimeout: 250, maxTimeout: 5_000, maxRetryTime: RECORD_OUTCOME_RETRY_MS });
  }

  /** The poison queue's message: the person is DeadLettered with the last error we saw. */
  async deadLetter(rawMessage: unknown, log: WorkerLog): Promise<void> {
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

function errorOf(error: GraphCallError): InvitationError {
  return {
    code: error.code,
    message: error.message,
    ...(error.httpStatus !== undefined ? { httpStatus: error.httpStatus } : {}),
    ...(error.graphRequestId ? { graphRequestId: error.graphRequestId } : {}),
  };
}

function describe(record: InvitationRecord): string {
  return record.error ? `(${record.error.httpStatus ?? '-'} ${record.error.code})` : '';
}
