import { createHash, randomUUID } from 'node:crypto';
import type { BatchBook, SubmissionEntry, PlacedPerson, BatchSource } from '../batches';
import {
  createLimiter,
  settleWithConcurrency,
  type InvitationStatus,
  deliveryWarning,
  problems,
  RequestProblem,
  type RejectedItem,
  verifySignature,
} from '../core';
import { applyInvitationPolicy, type InvitationPolicy } from './invitationPolicy';
import type { InvitationQueue, AdmissionCandidate, AdmissionResult, InvitationStore, RecordedAdmission } from '../storage';
import { parseSubmission, type Submission } from './submission';
import type { IdempotencyStore } from './idempotencyStore';

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

export interface SubmittedItem {
  index: number;
  id: string;
  email: string;
  status: InvitationStatus;
  duplicate: boolean;
  /** What the caller should know, such as a custom message Graph will leave out. */
  warnings?: string[];
}

export interface SubmissionResult {
  /** 202 when at least one item was accepted, 400 when none was. */
  httpStatus: 202 | 400;
  batchId: string;
  items: SubmittedItem[];
  rejected: RejectedItem[];
}

const PARALLEL_SENDS = 16;

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
    if (this.options.hmacSecrets.length > 0) {
      const verified = verifySignature(request.body, request.signature, {
        secrets: this.options.hmacSecrets,
        toleranceSeconds: this.options.hmacToleranceSeconds,
      });
      if ('problem' in verified) throw problems.unauthorized(verified.problem);
      // A replayed signed request is the same request: answered again, never acted on twice.
      keys.push(`signature:${verified.timestamp}.${verified.signature}`);
    }
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
    { source, keepRejectedWhenNoneAccepted = false, caller = source.kind }: AdmitSubmissionOptions,
  ): Promise<SubmissionResult> {
    const rejected = [...submission.rejected];

    // The same person twice in one submission: the later items answer as duplicates of the first.
    const firstByEmail = new Map<string, number>();
    const candidates: AdmissionCandidate[] = [];
    // `repeat`: a later item naming a person already among the candidates.
    const itemsToAdmit: { index: number; email: string; candidate: number; repeat: boolean }[] = [];
    for (const { index, line, pathPrefix, invitation: submitted } of submission.accepted) {
      const verdict = applyInvitationPolicy(submitted, this.options.policy);
      if (verdict.errors) {
        const errors = verdict.errors.map((error) => ({ path: `${pathPrefix}${error.path}`, message: error.message }));
        rejected.push({ index, ...(line ? { line } : {}), errors });
        continue;
      }
      const { invitation } = verdict;
      const email = invitation.invitedUserEmailAddress;
      const first = firstByEmail.get(email);
      if (first !== undefined) {
        itemsToAdmit.push({ index, email, candidate: first, repeat: true });
      } else {
        firstByEmail.set(email, candidates.length);
        itemsToAdmit.push({ index, email, candidate: candidates.length, repeat: false });
        const warning = deliveryWarning(invitation, this.options.inviteDelivery ?? 'graph');
        candidates.push({ email, invitation, ...(warning ? { warning } : {}) });
      }
    }
    rejected.sort((a, b) => a.index - b.index);
    if (candidates.length === 0) {
      if (keepRejectedWhenNoneAccepted) await this.recordInBatch({ batchId, source, submissionKey, people: [], rejected });
      return { httpStatus: 400, batchId, items: [], rejected };
    }

    // Each person's place in the batch is reserved before their record is written, so that the
    // record knows where the batch keeps its copy (batchLedger.ts).
    let firstPlace: number;
    try {
      firstPlace = await this.batches.reservePlaces(batchId, candidates.length);
    } catch (error) {
      throw new StorageUnavailableError(error);
    }
    for (const [position, candidate] of candidates.entries()) candidate.batchPosition = firstPlace + position;

    // Records are written before their messages, so no message lacks its record; each group's
    // messages go out as soon as its transaction commits, while the other groups are still written.
    const limit = createLimiter(PARALLEL_SENDS);
    const sends: Promise<{ admission: RecordedAdmission; error?: unknown }>[] = [];
    const queueRecorded = (recorded: AdmissionResult[]) => {
      for (const admission of recorded) {
        if (admission.admission === 'duplicate' || admission.admission === 'refused') continue;
        const { record } = admission;
        sends.push(
          limit(() => this.queue.send({ id: record.id, batchId, queuedAt: record.queuedAt })).then(
            () => ({ admission }),
            (error: unknown) => ({ admission, error }),
          ),
        );
      }
    };
    let admissions: AdmissionResult[];
    try {
      admissions = await this.store.admit(batchId, candidates, { onRecorded: queueRecorded, caller });
    } catch (error) {
      // Storage failed part-way: every record written so far is being queued; wait for that, so the
      // caller's retry of this exact request finds each person either queued once or not written.
      await this.withdrawUnsent(await Promise.all(sends));
      throw new StorageUnavailableError(error);
    }

    // A person storage refused is rejected alone, like an invalid item; the others go on.
    for (const { index, candidate } of itemsToAdmit) {
      const admission = admissions[candidate]!;
      if (admission.admission !== 'refused') continue;
      const { line, pathPrefix } = submission.accepted.find((item) => item.index === index)!;
      rejected.push({
        index,
        ...(line ? { line } : {}),
        errors: [{ path: pathPrefix.replace(/\.$/, '') || '(body)', message: admission.reason }],
      });
    }
    rejected.sort((a, b) => a.index - b.index);
    // In submission order: the accepted items come in it, and rejections only remove some.
    const items: SubmittedItem[] = itemsToAdmit.flatMap(({ index, email, candidate, repeat }) => {
      const admission = admissions[candidate]!;
      if (admission.admission === 'refused') return [];
      return [
        {
          index,
          id: admission.record.id,
          email,
          status: admission.record.status,
          duplicate: repeat || admission.admission === 'duplicate',
          ...(admission.record.warning ? { warnings: [admission.record.warning] } : {}),
        },
      ];
    });
    // A copy for each person at their place: a duplicate of another batch's person at the place
    // reserved for them; a person this batch already had keeps the place they have.
    const people: PlacedPerson[] = itemsToAdmit.flatMap(({ index, candidate, repeat }): PlacedPerson[] => {
      const admission = admissions[candidate]!;
      if (repeat || admission.admission === 'refused') return [];
      if (admission.admission === 'duplicate') {
        if (admission.record.batchId === batchId) return [];
        return [{ record: admission.record, index, position: candidates[candidate]!.batchPosition!, queuedHere: false }];
      }
      return [
        {
          record: admission.record,
          index,
          position: admission.batchPosition!,
          queuedHere: true,
          requeued: admission.admission === 'requeued',
        },
      ];
    });
    const [sent, batchError] = await Promise.all([
      Promise.all(sends),
      this.batches.recordSubmission({ batchId, source, submissionKey, people, rejected }).then(
        () => undefined,
        (error: unknown) => error ?? new Error('batch write failed'),
      ),
    ]);
    if (batchError !== undefined) {
      // The people are queued; the retry rewrites this submission's batch rows under the same key.
      await this.withdrawUnsent(sent);
      throw new StorageUnavailableError(batchError);
    }

    const unsent = sent.filter((send) => send.error !== undefined);
    if (unsent.length > 0) {
      await this.withdrawUnsent(sent);
      throw new QueueUnavailableError(unsent.length, unsent[0]!.error);
    }
    if (items.length === 0) return { httpStatus: 400, batchId, items, rejected };
    return { httpStatus: 202, batchId, items, rejected };
  }

  /** A part of a batch whose every row was rejected (a roster's chunk): its rows still belong in the batch's results. */
  private async recordInBatch(entry: SubmissionEntry): Promise<void> {
    try {
      await this.batches.recordSubmission(entry);
    } catch (error) {
      throw new StorageUnavailableError(error);
    }
  }

  /** Undoes the admissions whose message could not be sent, so that a retry queues those people. */
  private async withdrawUnsent(sent: readonly { admission: RecordedAdmission; error?: unknown }[]): Promise<void> {
    const unsent = sent.filter((send) => send.error !== undefined);
    await settleWithConcurrency(unsent, PARALLEL_SENDS, ({ admission }) => this.store.withdraw(admission));
  }
}

/**
 * Storage is unavailable (5xx, a network failure): a problem of ours, not the caller's. Whatever
 * was recorded was queued, so the same request, sent again, is safe: people already recorded
 * answer as duplicates, the others are recorded then.
 */
export class StorageUnavailableError extends RequestProblem {
  constructor(cause: unknown) {
    super(
      503,
      'storage-unavailable',
      'Storage is unavailable',
      'The invitations could not all be recorded; nothing was lost: submit the same request again.',
    );
    this.cause = cause;
  }
}

/** Storage is down: a 503 (a problem of ours, not the caller's), which the caller retries safely. */
export class QueueUnavailableError extends RequestProblem {
  constructor(unsent: number, cause: unknown) {
    super(
      503,
      'queue-unavailable',
      'The invitation queue is unavailable',
      `${unsent} invitation(s) could not be queued; nothing was lost: submit the same request again.`,
    );
    this.cause = cause;
  }
}
