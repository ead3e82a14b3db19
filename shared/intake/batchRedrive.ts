import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { recordIdSchema, type InvitationStatus, type AcceptedItem, type RejectedItem, InvalidRequest } from '../core';
import type { Intake, SubmissionResult } from './intake';
import { MAX_ITEMS_PER_SUBMISSION } from './submission';
import type { InvitationStore, StoredRecord } from '../storage';
import type { BatchLedger } from '../batches';

/**
 * POST /api/batches/{batchId}/redrive: a batch's Failed and DeadLettered people queued again, each
 * with the invitation first submitted for them (kept with their record), as a new submission into
 * the same batch: the same rules as any submission (a person in flight is a duplicate, the domain
 * policy applies), and the batch's counts move them back to Queued. Without ids, up to 1,000 of
 * the batch's failed people; the answer says how many are left for another call.
 */

/**
 * Only people whose invitation did not go through: an Expired or Removed person had a guest, and
 * is invited again only by a submission that says so (with the resend limit), never by a redrive.
 */
const REDRIVEN_STATUSES: ReadonlySet<InvitationStatus> = new Set(['Failed', 'DeadLettered']);

export const redriveRequestSchema = z.object({
  ids: z.array(recordIdSchema).min(1).max(MAX_ITEMS_PER_SUBMISSION).optional(),
});
export type RedriveRequest = z.infer<typeof redriveRequestSchema>;

export interface RedriveResult extends SubmissionResult {
  /** Failed people of the batch not taken by this call (over 1,000). */
  remaining: number;
}

export class BatchRedrive {
  constructor(
    private readonly store: InvitationStore,
    private readonly ledger: BatchLedger,
    private readonly intake: Intake,
  ) {}

  async redrive(batchId: string, { ids }: RedriveRequest): Promise<RedriveResult> {
    const failed = ids
      ? []
      : [...(await this.ledger.placesCountedAs(batchId, 'Failed')), ...(await this.ledger.placesCountedAs(batchId, 'DeadLettered'))].map(
          (place) => place.recordId,
        );
    const chosen = ids ?? failed.slice(0, MAX_ITEMS_PER_SUBMISSION);
    if (chosen.length === 0) throw new InvalidRequest(`Batch ${batchId} has no Failed or DeadLettered people to submit again.`);
    const accepted: AcceptedItem[] = [];
    const notRedriven: RejectedItem[] = [];
    for (const [index, id] of chosen.entries()) {
      const stored = await this.store.getById(id);
      const refusal = whyNotRedriven(stored, batchId);
      if (stored && !refusal) accepted.push({ index, pathPrefix: `ids[${index}].`, invitation: stored.invitation });
      else notRedriven.push({ index, errors: [{ path: `ids[${index}]`, message: refusal ?? '' }] });
    }
    const remaining = Math.max(0, failed.length - chosen.length);
    if (accepted.length === 0) return { batchId, items: [], rejected: notRedriven, remaining };
    // The ids refused here are no rows of the batch: they are answered, not kept in its results.
    const result = await this.intake.admit(batchId, { accepted, rejected: [] }, `redrive-${randomUUID()}`, { source: { kind: 'api' } });
    return { ...result, rejected: [...result.rejected, ...notRedriven].sort((a, b) => a.index - b.index), remaining };
  }
}

function whyNotRedriven(stored: StoredRecord | undefined, batchId: string): string | undefined {
  if (!stored || stored.record.batchId !== batchId) return 'is not a person of this batch';
  if (!REDRIVEN_STATUSES.has(stored.record.status))
    return `is ${stored.record.status}: only Failed and DeadLettered people are submitted again`;
  return undefined;
}
