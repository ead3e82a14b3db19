import { createHash } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { createLimiter } from '../concurrency';
import { takeFromCounter, takeFromSlidingWindow } from '../storage/tableCounter';

/**
 * What one sending mailbox may send (INVITE_DELIVERY=mail), shared by every instance through the
 * app's table: Exchange Online allows about 30 messages a minute and 10,000 recipients a day per
 * mailbox (MAIL_MAX_PER_MINUTE, MAIL_MAX_RECIPIENTS_PER_DAY), and Outlook 4 concurrent requests
 * per app and mailbox (a limiter in each process). One counter row per mailbox and minute, and
 * per mailbox and UTC day (PartitionKey `mailbox`), counted with a compare-and-swap. An email that
 * finds no room waits (emailStatus Pending) until the window that has room: never Failed for it.
 */

export interface MailboxBudgetOptions {
  perMinute: number;
  recipientsPerDay: number;
}

export type MailTurn = { ok: true } | { ok: false; retryAt: number; why: string };

const PARTITION = 'mailbox';
// Outlook's limit of concurrent requests per app and mailbox.
const CONCURRENT_REQUESTS = 4;
const MINUTE_MS = 60_000;
// A message is counted when its turn is taken, and Exchange counts it when it arrives, a little
// later: the window is kept this much longer, so that Exchange never sees one too many (measured: one in 1,000 without it).
const CLOCK_MARGIN_MS = 2_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

export class MailboxBudget {
  private readonly inFlight = createLimiter(CONCURRENT_REQUESTS);

  constructor(
    private readonly table: TableClient,
    private readonly options: MailboxBudgetOptions,
  ) {}

  /** Sends within the mailbox's budget: `send` runs (at most 4 at once) when its turn of the minute and the day have room. */
  async send(sender: string, recipients: number, send: () => Promise<void>, now = new Date()): Promise<MailTurn> {
    const mailbox = createHash('sha256').update(sender.toLowerCase()).digest('hex').slice(0, 32);
    const turn = await takeFromSlidingWindow(
      this.table,
      { partitionKey: PARTITION, rowKey: `${mailbox}|minute` },
      this.options.perMinute,
      MINUTE_MS + CLOCK_MARGIN_MS,
      now.getTime(),
    );
    if (!turn.ok)
      // Spread after the room comes, so that the emails waiting do not all come back for the same turn.
      return {
        ok: false,
        retryAt: turn.roomAt + Math.random() * (MINUTE_MS / 2),
        why: `the mailbox's ${this.options.perMinute} messages a minute (MAIL_MAX_PER_MINUTE)`,
      };
    const day = Math.floor(now.getTime() / DAY_MS);
    if (!(await this.take(`${mailbox}|d|${day}`, recipients, this.options.recipientsPerDay)))
      return {
        ok: false,
        retryAt: (day + 1) * DAY_MS,
        why: `the mailbox's ${this.options.recipientsPerDay} recipients of the day (MAIL_MAX_RECIPIENTS_PER_DAY)`,
      };
    await this.inFlight(send);
    return { ok: true };
  }

  private take(rowKey: string, amount: number, limit: number): Promise<boolean> {
    return takeFromCounter(this.table, { partitionKey: PARTITION, rowKey }, amount, limit);
  }
}
