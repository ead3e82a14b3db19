import type { RejectedItem } from '../core';
import type { BatchIndex } from './batchIndex';
import type { BatchSource } from './batchSource';
import type { BatchLedger, PlacedPerson } from './batchLedger';
import type { RejectedRows } from './rejectedRows';

/**
 * What a submission adds to its batch: the batch's registration (batchIndex.ts), its people
 * (batchLedger.ts) and its rejected rows (rejectedRows.ts). Each write is idempotent, so a retried
 * submission rewrites the same rows.
 */

export interface SubmissionEntry {
  batchId: string;
  source: BatchSource;
  /** Names the submission within its batch (see Intake.admit). */
  submissionKey: string;
  people: readonly PlacedPerson[];
  rejected: readonly RejectedItem[];
}

export class BatchBook {
  constructor(
    readonly index: BatchIndex,
    readonly ledger: BatchLedger,
    readonly rejectedRows: RejectedRows,
  ) {}

  /** Places for a submission's people in the batch, reserved before their records are written: the first of them. */
  reservePlaces(batchId: string, count: number): Promise<number> {
    return this.ledger.reserve(batchId, count);
  }

  async recordSubmission({ batchId, source, submissionKey, people, rejected }: SubmissionEntry): Promise<void> {
    const submittedAt = new Date().toISOString();
    await Promise.all([
      this.index.open(batchId, source, submittedAt),
      this.ledger.addPeople(batchId, people, submittedAt),
      this.rejectedRows.add(batchId, submissionKey, rejected, submittedAt),
    ]);
    // A person queued again at the place they had keeps its copy until synced: their record moved on.
    for (const person of people) if (person.requeued) await this.ledger.sync(batchId, person.record.id, person.position);
  }
}
