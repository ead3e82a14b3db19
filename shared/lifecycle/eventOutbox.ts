import { odata } from '@azure/data-tables';
import { mapWithConcurrency } from '../core';
import { isNotFound, type EventOutboxWriter, type OutboxEntry, type RecordEntity, type TableLayout } from '../storage';
import type { InvitationEvents } from './invitationEvents';

/**
 * The transactional outbox of the callers' events (lifecycle/invitationEvents.ts). The event of a
 * status change is written in the change's own entity-group transaction, as a row of the record's
 * partition (`o|<event id>`: storage/invitationStore.ts), so no change is recorded without it.
 * Right after the write it is queued and taken out (`relay`); one whose queueing failed, or whose
 * process died first, is queued by the timer (`relayStranded`, functions/relayInvitationEvents.ts).
 * Its id comes from the change itself, so a repeat is the same event to the receiver (CloudEvents
 * consumers de-duplicate by id): delivery is at least once, with one id per change.
 */

const OUTBOX_PREFIX = 'o|';
// Left this long, an entry's own relay has failed (or its process died): the timer queues it.
const STRANDED_AFTER_MS = 30_000;
const PARALLEL_PARTITIONS = 16;

export class EventOutbox implements EventOutboxWriter {
  constructor(
    private readonly layout: TableLayout,
    private readonly events: Pick<InvitationEvents, 'messageFor' | 'enqueue'>,
  ) {}

  entryFor(entity: RecordEntity): OutboxEntry | undefined {
    const made = this.events.messageFor(entity);
    return made && { rowKey: `${OUTBOX_PREFIX}${made.id}`, message: made.message };
  }

  /** Queues the entry's event, then takes it out of the outbox; a failure leaves it there for relayStranded. */
  async relay(recordId: string, entry: OutboxEntry): Promise<void> {
    await this.events.enqueue(entry.message);
    await this.layout
      .recordRows(recordId)
      .delete(entry.rowKey)
      .catch((error: unknown) => {
        if (!isNotFound(error)) throw error; // relayed by someone else meanwhile
      });
  }

  /** Every entry left in the outbox for `strandedAfterMs`: queued and taken out. How many. */
  async relayStranded(strandedAfterMs = STRANDED_AFTER_MS): Promise<number> {
    const before = new Date(Date.now() - strandedAfterMs).toISOString();
    const relayed = await mapWithConcurrency(this.layout.allRecordRows(), PARALLEL_PARTITIONS, async (rows) => {
      let count = 0;
      const entries = rows.list<{ recordId: string; message: string }>(
        odata`RowKey ge ${OUTBOX_PREFIX} and RowKey lt ${'o}'} and createdAt le ${before}`,
      );
      for await (const entry of entries) {
        await this.relay(entry.recordId, { rowKey: entry.rowKey!, message: entry.message });
        count += 1;
      }
      return count;
    });
    return relayed.reduce((sum, count) => sum + count, 0);
  }
}
