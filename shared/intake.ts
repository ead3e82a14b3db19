import { createHash, randomUUID } from 'node:crypto';
import type { BatchMembership } from './batchMembership';
import { createLimiter, settleWithConcurrency } from './concurrency';
import { domainPolicyProblem, type DomainPolicy } from './domainPolicy';
import type { InvitationQueue } from './invitationQueue';
import type { InvitationStatus } from './invitationRecord';
import type { AdmissionCandidate, AdmissionResult, InvitationStore } from './invitationStore';
import { problems, RequestProblem } from './problem';
import { parseSubmission, type RejectedItem, type Submission } from './submission';
import { signatureProblem } from './webhookSignature';

/**
 * The only door: validates a submission, records every valid person (once), queues each new
 * attempt, and answers with what the caller can poll. See docs in README "HTTP API".
 */

export interface IntakeOptions {
  domainPolicy: DomainPolicy;
  hmacSecret?: string | undefined;
  /** A Queued record older than this is queued again on a new submission (see shouldQueueAgain). */
  queuedStaleAfterMs: number;
}

export interface SubmissionRequest {
  contentType: string | undefined;
  body: Uint8Array;
  signature?: string | null | undefined;
}

export interface SubmittedItem {
  index: number;
  id: string;
  email: string;
  status: InvitationStatus;
  duplicate: boolean;
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
    private readonly membership: BatchMembership,
    private readonly queue: InvitationQueue,
    private readonly options: IntakeOptions,
  ) {}

  async submit(request: SubmissionRequest): Promise<SubmissionResult> {
    if (this.options.hmacSecret) {
      const problem = signatureProblem(this.options.hmacSecret, request.body, request.signature);
      if (problem) throw problems.unauthorized(problem);
    }
    const submission = parseSubmission(request.contentType, request.body);
    // A retried request (same batch, same body) rewrites its own batch rows instead of adding them again.
    const batchId = submission.batchId ?? randomUUID();
    const submissionKey = createHash('sha256').update(batchId).update('\n').update(request.body).digest('hex').slice(0, 32);
    return this.admit(batchId, submission, submissionKey);
  }

  /**
   * Records and queues a validated submission's people as part of `batchId`. `submissionKey` names
   * this submission within the batch: submitting the same key again (a retry, a roster chunk
   * recorded again after a crash) rewrites its batch rows rather than adding them twice.
   */
  async admit(batchId: string, submission: Pick<Submission, 'accepted' | 'rejected'>, submissionKey: string): Promise<SubmissionResult> {
    const rejected = [...submission.rejected];

    // The same person twice in one submission: the later items answer as duplicates of the first.
    const firstByEmail = new Map<string, number>();
    const candidates: AdmissionCandidate[] = [];
    // `repeat`: a later item naming a person already among the candidates.
    const itemsToAdmit: { index: number; email: string; candidate: number; repeat: boolean }[] = [];
    for (const { index, line, pathPrefix, invitation } of submission.accepted) {
      const email = invitation.invitedUserEmailAddress;
      const policyProblem = domainPolicyProblem(email, this.options.domainPolicy);
      if (policyProblem) {
        rejected.push({ index, ...(line ? { line } : {}), errors: [{ path: `${pathPrefix}invitedUserEmailAddress`, message: policyProblem }] });
        continue;
      }
      const first = firstByEmail.get(email);
      if (first !== undefined) {
        itemsToAdmit.push({ index, email, candidate: first, repeat: true });
      } else {
        firstByEmail.set(email, candidates.length);
        itemsToAdmit.push({ index, email, candidate: candidates.length, repeat: false });
        candidates.push({ email, invitation });
      }
    }
    rejected.sort((a, b) => a.index - b.index);
    if (candidates.length === 0) return { httpStatus: 400, batchId, items: [], rejected };

    // Records are written before their messages, so no message lacks its record; each group's
    // messages go out as soon as its transaction commits, while the other groups are still written.
    const limit = createLimiter(PARALLEL_SENDS);
    const sends: Promise<{ admission: AdmissionResult; error?: unknown }>[] = [];
    const admissions = await this.store.admit(batchId, candidates, this.options.queuedStaleAfterMs, (recorded) => {
      for (const admission of recorded.filter((result) => result.admission !== 'duplicate')) {
        const { record } = admission;
        sends.push(
          limit(() => this.queue.send({ id: record.id, batchId, queuedAt: record.queuedAt })).then(
            () => ({ admission }),
            (error: unknown) => ({ admission, error }),
          ),
        );
      }
    });
    // In submission order: the accepted items come in it, and policy rejections only remove some.
    const items: SubmittedItem[] = itemsToAdmit.map(({ index, email, candidate, repeat }) => {
      const admission = admissions[candidate]!;
      return { index, id: admission.record.id, email, status: admission.record.status, duplicate: repeat || admission.admission === 'duplicate' };
    });
    const batchItems = items
      .filter((_, position) => !itemsToAdmit[position]!.repeat)
      .map(({ id, index, email, duplicate }) => ({ recordId: id, index, email, duplicate }));
    const [sent] = await Promise.all([
      Promise.all(sends),
      this.membership.add(batchId, batchItems, submissionKey),
    ]);

    const unsent = sent.filter((send) => send.error !== undefined);
    if (unsent.length > 0) {
      await settleWithConcurrency(unsent, PARALLEL_SENDS, ({ admission }) => this.store.withdraw(admission));
      throw new QueueUnavailableError(unsent.length, unsent[0]!.error);
    }

    return { httpStatus: 202, batchId, items, rejected };
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
