import pRetry from 'p-retry';
import type { BatchLedger } from '../batches';
import { FINAL_STATUSES, type Log } from '../core';
import type { EventOutbox, InvitationEvents } from '../lifecycle';
import type { RecordChange, RecordChangeFollower } from '../storage';

/**
 * What follows every change of a record the store writes (storage/invitationStore.ts calls
 * `follow` before the write returns): the person's copy in their batch is synced (batchLedger.ts),
 * and their caller is told in a CloudEvent (lifecycle/invitationEvents.ts). Neither may hold up the
 * other, and neither loses the change:
 * - a final status must reach the batch, since nothing syncs its copy again unless the person
 *   changes: its sync is retried for a while (FINAL_COPY_RETRIES), then its writer hears of the
 *   failure (the worker retries through a storage outage; a failed message is delivered again and
 *   reconfirms). The steps in between (Queued, Processing) are caught up by the stranded sweep;
 * - the event, written in the change's own transaction (the outbox, lifecycle/eventOutbox.ts), is
 *   queued and taken out of the outbox; one whose queueing fails stays there and the timer relays
 *   it; meanwhile the lag is logged.
 */

// A final status's batch copy is synced again this many times (after 0.5, 1, 2 and 4 s), each time
// after the storage SDK's own retries, before its writer hears of the failure.
const FINAL_COPY_RETRIES = 4;

export class RecordChanges implements RecordChangeFollower {
  constructor(
    private readonly ledger: Pick<BatchLedger, 'sync'>,
    private readonly events: Pick<InvitationEvents, 'announce'>,
    private readonly log: Pick<Log, 'warn'> = console,
    /** The events' outbox: a change written with its event has it relayed from there. */
    private readonly outbox?: Pick<EventOutbox, 'relay'>,
  ) {}

  async follow({ batchId, recordId, batchPosition, entity, announce, outbox }: RecordChange): Promise<void> {
    const lag = (what: string, error: unknown) => this.log.warn(`Invitation ${recordId}: ${what} lags (${String(error).split('\n')[0]}).`);
    const final = entity !== undefined && FINAL_STATUSES.has(entity.status);
    const syncCopy = (position: number) =>
      pRetry(() => this.ledger.sync(batchId, recordId, position), { retries: final ? FINAL_COPY_RETRIES : 0, minTimeout: 500 }).catch(
        (error: unknown) => {
          if (final) throw error;
          lag(`its copy in batch ${batchId}`, error);
        },
      );
    await Promise.all([
      batchPosition === undefined ? undefined : syncCopy(batchPosition),
      outbox && this.outbox
        ? // Left in the outbox when queueing fails: the timer relays it (lifecycle/eventOutbox.ts).
          this.outbox
            .relay(recordId, outbox)
            .catch((error: unknown) => lag(`the event of its ${entity?.status ?? 'change'} (kept in the outbox)`, error))
        : entity && announce !== false
          ? this.events.announce(entity).catch((error: unknown) => lag(`the event of its ${entity.status}`, error))
          : undefined,
    ]);
  }
}
