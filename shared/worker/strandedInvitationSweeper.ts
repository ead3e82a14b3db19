import { mapWithConcurrency } from '../core';
import type { InvitationQueue, InvitationStore } from '../storage';
import type { BatchBook } from '../batches';

/**
 * The intake writes a person's record before their queue message. A process killed between the
 * two (or a failed withdrawal after a failed send) leaves a record Queued with no message: nobody
 * would ever invite that person. The sweep finds such records and queues them again.
 *
 * It runs only when the queue and its poison queue are empty. Then no message is waiting, in
 * flight, delayed by a throttled retry or about to be dead-lettered, so a record Queued and
 * untouched for `strandedAfterMs` has certainly lost its message. While there is a backlog
 * (a 50,000-row roster takes Graph's budget about 40 minutes) the sweep waits: it never floods
 * the queue with copies of messages that are only slow. A copy would still be harmless, since a
 * worker's claim on the record lets one message call Graph at most once per attempt.
 *
 * Then it reconciles the batches: with no message anywhere, a person a batch still counts as Queued
 * or Processing is either stranded (just requeued) or a copy that missed its record's last change
 * (a process killed between the two writes: see batchLedger.ts). Each such copy is synced again.
 */

export interface SweepResult {
  /** Messages still in the queues when the sweep looked: it did nothing. */
  waitingMessages: number;
  requeued: number;
  /** Stranded people left for the next sweep (over `maxPerSweep`). */
  leftForNextSweep: number;
  /** Batch copies of people brought up to date with their records. */
  reconciled: number;
}

export interface SweepOptions {
  strandedAfterMs: number;
  /** Bounds one invocation's work; the rest is found by the next sweep, once these are processed. */
  maxPerSweep?: number;
}

const PARALLEL_SENDS = 16;
const DEFAULT_MAX_PER_SWEEP = 5_000;
/** The batches reconciled: the most recent ones (a batch older than these has long been final). */
const RECONCILED_BATCHES = 200;

export class StrandedInvitationSweeper {
  constructor(
    private readonly store: InvitationStore,
    private readonly queue: InvitationQueue,
    private readonly batches: BatchBook,
    private readonly options: SweepOptions,
  ) {}

  async sweep(): Promise<SweepResult> {
    const waitingMessages = await this.queue.approximateDepth();
    if (waitingMessages > 0) return { waitingMessages, requeued: 0, leftForNextSweep: 0, reconciled: 0 };

    const now = new Date();
    const stranded = await this.store.queuedUntouchedSince(new Date(now.getTime() - this.options.strandedAfterMs).toISOString());
    const batch = stranded.slice(0, this.options.maxPerSweep ?? DEFAULT_MAX_PER_SWEEP);
    const requeued = await mapWithConcurrency(batch, PARALLEL_SENDS, async ({ entity, etag }) => {
      // A new attempt from now; with the ETag, so that a record that moved meanwhile (a worker
      // claimed it, an intake queued it again) is left alone.
      const queuedAt = now.toISOString();
      if (!(await this.store.replace({ ...entity, queuedAt, updatedAt: queuedAt }, etag))) return false;
      await this.queue.send({ id: entity.id, batchId: entity.batchId, queuedAt });
      return true;
    });
    const reconciled = await this.reconcileBatches(this.options.maxPerSweep ?? DEFAULT_MAX_PER_SWEEP);
    return { waitingMessages: 0, requeued: requeued.filter(Boolean).length, leftForNextSweep: stranded.length - batch.length, reconciled };
  }

  /** Syncs the copies of the people recent batches count as in flight, at most `limit` of them. */
  private async reconcileBatches(limit: number): Promise<number> {
    const { ledger, index } = this.batches;
    const { batches } = await index.list({ pageSize: RECONCILED_BATCHES });
    let examined = 0;
    let reconciled = 0;
    for (const { batchId } of batches) {
      if (examined >= limit) break;
      const counts = await ledger.counts(batchId);
      if (counts.Queued + counts.Processing === 0) continue;
      const places = [...(await ledger.placesCountedAs(batchId, 'Queued')), ...(await ledger.placesCountedAs(batchId, 'Processing'))];
      const synced = await mapWithConcurrency(places.slice(0, limit - examined), PARALLEL_SENDS, ({ recordId, position }) =>
        ledger.sync(batchId, recordId, position),
      );
      examined += synced.length;
      reconciled += synced.filter(Boolean).length;
    }
    return reconciled;
  }
}
