import { FINAL_STATUSES, type InvitationLifecycle, type InvitationOutcome, type InvitationRecord } from '../core';
import {
  type InvitationStore,
  type StoredRecord,
  errorColumns,
  NO_CLAIM,
  outcomeColumns,
  recordFromEntity,
  type RecordEntity,
} from '../storage';

/**
 * The worker's hold on a person while it calls Graph. Claiming moves the record to Processing with
 * optimistic concurrency on its ETag and a lease: a duplicate delivery or a second worker sees the
 * claim and makes no second Graph call, while a claim left by a crashed worker can be taken over
 * once its lease has expired.
 */

export type ClaimResult =
  | { kind: 'claimed'; claim: Claim }
  /** Invited, Failed or DeadLettered: nothing to do. */
  | { kind: 'final'; record: InvitationRecord }
  /** Another invocation holds a live claim until `leaseUntil`. */
  | { kind: 'held'; leaseUntil: number }
  | { kind: 'missing' };

export interface Claim {
  stored: StoredRecord;
  etag: string;
  claimant: string;
  /** Whether this claim took over one whose lease had expired (its worker crashed or hung). */
  tookOver: boolean;
}

/** What a call to Graph came to: a final status, or Queued to hand the person back for a later try. */
export interface Outcome extends InvitationOutcome {
  status: 'Invited' | 'Failed' | 'Queued';
  /** Calls to Graph made for it (added to the record's attempts). */
  calls: number;
  /** Lifecycle fields it changes (an undefined value clears one). */
  lifecycle?: InvitationLifecycle;
  /** Record fields kept across attempts that it settles (the guest established as ours). */
  fields?: Pick<InvitationRecord, 'ownedUserId'>;
}

/** The error a dead-lettered person gets when no call left one. */
const QUEUE_GAVE_UP = { code: 'MaxDequeueCountExceeded', message: 'The queue gave up on this invitation after its maximum dequeue count.' };

export interface InvitationClaimsOptions {
  /** CLAIM_LEASE_SECONDS, in ms: how long a claim holds a person before another worker may take it over. */
  leaseMs: number;
}

export class InvitationClaims {
  constructor(
    private readonly store: InvitationStore,
    private readonly options: InvitationClaimsOptions,
  ) {}

  async claim(id: string, claimant: string, { reconfirmFinal = true }: { reconfirmFinal?: boolean } = {}): Promise<ClaimResult> {
    for (;;) {
      const stored = await this.store.getById(id);
      if (!stored) return { kind: 'missing' };
      const { record, entity } = stored;
      if (FINAL_STATUSES.has(record.status)) {
        // A redelivered message: the worker that wrote this may have died before its batch heard of it.
        if (reconfirmFinal) await this.store.reconfirm(stored);
        return { kind: 'final', record };
      }
      const now = new Date();
      const leaseUntil = entity.leaseUntil ? Date.parse(entity.leaseUntil) : 0;
      const tookOver = record.status === 'Processing';
      if (tookOver && leaseUntil > now.getTime() && entity.claimedBy !== claimant) return { kind: 'held', leaseUntil };
      const claimed: RecordEntity = {
        ...entity,
        status: 'Processing',
        claimedBy: claimant,
        leaseUntil: new Date(now.getTime() + this.options.leaseMs).toISOString(),
        updatedAt: now.toISOString(),
      };
      const etag = await this.store.replace(claimed, stored.etag);
      if (etag)
        return {
          kind: 'claimed',
          claim: { stored: { ...stored, entity: claimed, record: recordFromEntity(claimed), etag }, etag, claimant, tookOver },
        };
      // Someone changed the record between our read and write: read again and decide again.
    }
  }

  /**
   * Writes what happened. Invited and Failed are written whatever happened meanwhile (they are the
   * truth about a call that was made); Queued (a release for a later retry) only while our claim
   * is intact, so a release never undoes another worker's outcome.
   */
  async record(claim: Claim, outcome: Outcome): Promise<InvitationRecord> {
    const { entity } = claim.stored;
    const next: RecordEntity = {
      ...entity,
      ...outcomeColumns(outcome),
      ...outcome.lifecycle,
      ...outcome.fields,
      ...NO_CLAIM,
      status: outcome.status,
      attempts: entity.attempts + outcome.calls,
      updatedAt: new Date().toISOString(),
    };
    await this.store.replace(next, outcome.status === 'Queued' ? claim.etag : undefined);
    return recordFromEntity(next);
  }

  /** The poison queue's verdict: DeadLettered with the last error, unless the person got a final outcome meanwhile. */
  async deadLetter(id: string): Promise<InvitationRecord | undefined> {
    for (;;) {
      const stored = await this.store.getById(id);
      if (!stored) return undefined;
      if (FINAL_STATUSES.has(stored.record.status)) {
        // Final meanwhile, perhaps by a worker whose batch copy then failed to follow: tell the batch again.
        await this.store.reconfirm(stored);
        return stored.record;
      }
      const { entity } = stored;
      const next: RecordEntity = {
        ...entity,
        status: 'DeadLettered',
        updatedAt: new Date().toISOString(),
        ...(stored.record.error ? {} : errorColumns(QUEUE_GAVE_UP)),
        ...NO_CLAIM,
      };
      if (await this.store.replace(next, stored.etag)) return recordFromEntity(next);
    }
  }
}
