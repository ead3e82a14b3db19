import { createHash, randomUUID } from 'node:crypto';
import type { BatchBook, SubmissionEntry, BatchSource } from '../batches';
import { createLimiter, settleWithConcurrency, BadSignature, Unavailable, type RejectedItem, verifySignature } from '../core';
import type { InvitationPolicy } from './invitationPolicy';
import { answerAdmissions, screenSubmission, type SubmittedItem } from './submissionScreening';
import type { InvitationQueue, AdmissionCandidate, AdmissionResult, InvitationStore, RecordedAdmission } from '../storage';
import { parseSubmission, type Submission } from './submission';
import type { IdempotencyStore } from './idempotencyStore';
import type { InvitationPlan, InvitationPlanner } from './invitationPlanner';

/**
 * The only door: validates a submission, records every valid person (once), queues each new
 * attempt, and answers with what the caller can poll. See docs in README "HTTP API".
 */

export interface IntakeOptions {
  /** What callers may ask for, as the operator's settings grant it (invitationPolicy.ts). */
  policy: InvitationPolicy;
  /** INVITE_DELIVERY: with `graph` a custom message is warned about (deliveryWarning). @default 'graph' */
  inviteDelivery?: 'graph' | 'mail';
  /** INTAKE_HMAC_SECRET: when any, every submission must be signed by one of them. */
  hmacSecrets: readonly string[];
  hmacToleranceSeconds: number;
  idempotency: IdempotencyStore;
  /** Answers dry runs (`plan`); none: this intake only submits. */
  planner?: InvitationPlanner;
}

export interface AdmitSubmissionOptions {
  /** Where the batch came from, shown in GET /api/batches (its first submission's stays). */
  source: BatchSource;
  /**
   * Keep the rejected rows in the batch even when no row was accepted. A request whose every item
   * is rejected writes nothing (it is answered 400); a roster's chunk whose every row is rejected
   * is still part of the roster's batch, and its rows belong in the roster's results.
   * @default false
   */
  keepRejectedWhenNoneAccepted?: boolean;
  /** Who submits, for their day's budget of resends (storage/callerResendBudget.ts). @default the source's kind */
  caller?: string;
  /** A partner's synced roster: its people are stamped with the partner (rosters/rosterSync.ts). */
  partner?: string;
}

const API_SOURCE: BatchSource = { kind: 'api' };

export interface SubmissionRequest {
  contentType: string | undefined;
  body: Uint8Array;
  signature?: string | null | undefined;
  /** The Idempotency-Key header: the same key within 24 h gets the first answer again. */
  idempotencyKey?: string | null | undefined;
  /** @default { kind: 'api' } */
  source?: BatchSource;
  /** Who the functions layer knows the caller to be (an Entra identity, or function-key callers as one). */
  caller?: string;
}

export interface SubmissionResult {
  batchId: string;
  /** Who was accepted; none when every item was rejected. */
  items: SubmittedItem[];
  rejected: RejectedItem[];
}

const PARALLEL_SENDS = 16;

/** A message sent for a recorded person, or the error that kept it from the queue. */
interface QueueSend {
  admission: RecordedAdmission;
  error?: unknown;
}

export class Intake {
  constructor(
    private readonly store: InvitationStore,
    private readonly batches: BatchBook,
    private readonly queue: InvitationQueue,
    private readonly options: IntakeOptions,
  ) {}

  async submit(request: SubmissionRequest): Promise<SubmissionResult & { replayed?: true }> {
    const keys: string[] = [];
    if (request.idempotencyKey) keys.push(`key:${request.idempotencyKey}`);
    const signature = this.verifiedSignature(request);
    // A replayed signed request is the same request: answered again, never acted on twice.
    if (signature) keys.push(`signature:${signature}`);
    if (keys.length === 0) return this.submitOnce(request);
    const earlier = await this.options.idempotency.begin<SubmissionResult>(keys, request.body);
    if (earlier) return { ...earlier.replay, replayed: true };
    let result: SubmissionResult;
    try {
      result = await this.submitOnce(request);
    } catch (error) {
      // A request that ended in a problem did nothing: its keys are freed, and a retry runs (and answers) again.
      await this.options.idempotency.release(keys);
      throw error;
    }
    await this.options.idempotency.complete(keys, request.body, result);
    return result;
  }

  /**
   * What the submission would do, row by row, writing nothing (invitationPlanner.ts): signed as a
   * submission must be, never recorded under its idempotency key.
   */
  async plan(request: SubmissionRequest): Promise<InvitationPlan> {
    this.verifiedSignature(request);
    return this.planItems(parseSubmission(request.contentType, request.body));
  }

  /** The plan of items already read and validated (a roster's chunk), rows numbered by their index. */
  async planItems(submission: Pick<Submission, 'accepted' | 'rejected'>): Promise<InvitationPlan> {
    if (!this.options.planner) throw new Error('This intake has no planner.');
    return this.options.planner.plan(submission);
  }

  /** With INTAKE_HMAC_SECRET, the request's verified signature (`<timestamp>.<signature>`); BadSignature if it is not. */
  private verifiedSignature(request: SubmissionRequest): string | undefined {
    if (this.options.hmacSecrets.length === 0) return undefined;
    const verified = verifySignature(request.body, request.signature, {
      secrets: this.options.hmacSecrets,
      toleranceSeconds: this.options.hmacToleranceSeconds,
    });
    if ('problem' in verified) throw new BadSignature(verified.problem);
    return `${verified.timestamp}.${verified.signature}`;
  }

  private async submitOnce(request: SubmissionRequest): Promise<SubmissionResult> {
    const submission = parseSubmission(request.contentType, request.body);
    // A retried request (same batch, same body) rewrites its own batch rows instead of adding them again.
    const batchId = submission.batchId ?? randomUUID();
    const submissionKey = createHash('sha256').update(batchId).update('\n').update(request.body).digest('hex').slice(0, 32);
    return this.admit(batchId, submission, submissionKey, {
      source: request.source ?? API_SOURCE,
      ...(request.caller ? { caller: request.caller } : {}),
    });
  }

  /**
   * Records and queues a validated submission's people as part of `batchId`. `submissionKey` names
   * this submission within the batch: submitting the same key again (a retry, a roster chunk
   * recorded again after a crash) rewrites its batch rows rather than adding them twice.
   */
  async admit(
    batchId: string,
    submission: Pick<Submission, 'accepted' | 'rejected'>,
    submissionKey: string,
    { source, keepRejectedWhenNoneAccepted = false, caller = source.kind, partner }: AdmitSubmissionOptions,
  ): Promise<SubmissionResult> {
    const screened = screenSubmission(submission, this.options.policy, this.options.inviteDelivery ?? 'graph');
    if (partner) for (const candidate of screened.candidates) candidate.partner = partner;
    if (screened.candidates.length === 0) {
      const { rejected } = screened;
      if (keepRejectedWhenNoneAccepted) await this.recordInBatch({ batchId, source, submissionKey, people: [], rejected });
      return { batchId, items: [], rejected };
    }
    await this.reservePlaces(batchId, screened.candidates);
    const { admissions, sends } = await this.recordAndQueue(batchId, screened.candidates, caller);
    const { items, rejected, people } = answerAdmissions(batchId, submission.accepted, screened, admissions);
    await this.recordBatchOnceQueued(sends, { batchId, source, submissionKey, people, rejected });
    return { batchId, items, rejected };
  }

  /**
   * Each person's place in the batch is reserved before their record is written, so that the
   * record knows where the batch keeps its copy (batchLedger.ts).
   */
  private async reservePlaces(batchId: string, candidates: AdmissionCandidate[]): Promise<void> {
    let firstPlace: number;
    try {
      firstPlace = await this.batches.reservePlaces(batchId, candidates.length);
    } catch (error) {
      throw storageUnavailable(error);
    }
    for (const [position, candidate] of candidates.entries()) candidate.batchPosition = firstPlace + position;
  }

  /**
   * Records are written before their messages, so no message lacks its record; each group's
   * messages go out as soon as its transaction commits, while the other groups are still written.
   */
  private async recordAndQueue(batchId: string, candidates: AdmissionCandidate[], caller: string) {
    const limit = createLimiter(PARALLEL_SENDS);
    const sends: Promise<QueueSend>[] = [];
    const queueRecorded = (recorded: AdmissionResult[]) => {
      for (const admission of recorded) {
        if (admission.admission === 'duplicate' || admission.admission === 'refused') continue;
        const { record } = admission;
        // A mover's message asks only for the follow-up (the profile), never for an invitation.
        const message =
          admission.admission === 'updated'
            ? { id: record.id, batchId: record.batchId, queuedAt: record.queuedAt, followUpOnly: true }
            : { id: record.id, batchId, queuedAt: record.queuedAt };
        sends.push(
          limit(() => this.queue.send(message)).then(
            () => ({ admission }),
            (error: unknown) => ({ admission, error }),
          ),
        );
      }
    };
    try {
      const admissions = await this.store.admit(batchId, candidates, { onRecorded: queueRecorded, caller });
      return { admissions, sends };
    } catch (error) {
      // Storage failed part-way: every record written so far is being queued; wait for that, so the
      // caller's retry of this exact request finds each person either queued once or not written.
      await this.withdrawUnsent(await Promise.all(sends));
      throw storageUnavailable(error);
    }
  }

  /**
   * The batch's rows are written while the messages go out; if either fails, the people whose
   * message was not sent are withdrawn, so that the caller's retry queues exactly them (the retry
   * rewrites this submission's batch rows under the same key).
   */
  private async recordBatchOnceQueued(sends: Promise<QueueSend>[], entry: SubmissionEntry): Promise<void> {
    const [sent, batchError] = await Promise.all([
      Promise.all(sends),
      this.batches.recordSubmission(entry).then(
        () => undefined,
        (error: unknown) => error ?? new Error('batch write failed'),
      ),
    ]);
    const unsent = sent.filter((send) => send.error !== undefined);
    if (batchError === undefined && unsent.length === 0) return;
    await this.withdrawUnsent(sent);
    throw batchError !== undefined ? storageUnavailable(batchError) : queueUnavailable(unsent.length, unsent[0]!.error);
  }

  /** A part of a batch whose every row was rejected (a roster's chunk): its rows still belong in the batch's results. */
  private async recordInBatch(entry: SubmissionEntry): Promise<void> {
    try {
      await this.batches.recordSubmission(entry);
    } catch (error) {
      throw storageUnavailable(error);
    }
  }

  /** Undoes the admissions whose message could not be sent, so that a retry queues those people. */
  private async withdrawUnsent(sent: readonly QueueSend[]): Promise<void> {
    const unsent = sent.filter((send) => send.error !== undefined);
    await settleWithConcurrency(unsent, PARALLEL_SENDS, ({ admission }) => this.store.withdraw(admission));
  }
}

/**
 * Storage is unavailable (5xx, a network failure): a failure of ours, not the caller's. Whatever
 * was recorded was queued, so the same request, sent again, is safe: people already recorded
 * answer as duplicates, the others are recorded then.
 */
export function storageUnavailable(cause: unknown): Unavailable {
  return new Unavailable('The invitations could not all be recorded; nothing was lost: submit the same request again.', 'storage', {
    cause,
  });
}

/** The queue is down: the people recorded but not queued were withdrawn, so the same request, sent again, queues them. */
function queueUnavailable(unsent: number, cause: unknown): Unavailable {
  return new Unavailable(`${unsent} invitation(s) could not be queued; nothing was lost: submit the same request again.`, 'queue', {
    cause,
  });
}
