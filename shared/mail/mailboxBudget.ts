import { createHash } from 'node:crypto';
import { createLimiter } from '../core';
import { type PartitionRows, takeFromRollingWindow, takeFromSlidingWindow } from '../storage';

/**
 * What one sending mailbox may send (INVITE_DELIVERY=mail), shared by every instance through the
 * app's table: Exchange Online allows about 30 messages a minute and 10,000 recipients a day per
 * mailbox (MAIL_MAX_PER_MINUTE, MAIL_MAX_RECIPIENTS_PER_DAY), and Outlook 4 concurrent requests
 * per app and mailbox (a limiter in each process). Per mailbox one row holds the last minute's
 * sends and one the last 24 hours' recipients by the hour (PartitionKey `mailbox`), each moved with
 * a compare-and-swap. Exchange counts the day rolling: a count per UTC day would let a day's
 * recipients through on each side of midnight, and a mailbox over its limit sends nothing more
 * until its last 24 hours are back under it. An email that finds no room waits (emailStatus
 * Pending) until the window has room: never Failed for it.
 */

export interface MailboxBudgetOptions {
  perMinute: number;
  recipientsPerDay: number;
}

export type MailTurn = { ok: true } | { ok: false; retryAt: number; why: string };

// Outlook's limit of concurrent requests per app and mailbox.
const CONCURRENT_REQUESTS = 4;
const MINUTE_MS = 60_000;
// A message is counted when its turn is taken, and Exchange counts it when it arrives, a little
// later: the window is kept this much longer, so that Exchange never sees one too many (measured: one in 1,000 without it).
const CLOCK_MARGIN_MS = 2_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export class MailboxBudget {
  private readonly inFlight = createLimiter(CONCURRENT_REQUESTS);

  constructor(
    /** The `mailbox` rows (storage/tableLayout.ts). */
    private readonly rows: PartitionRows,
    private readonly options: MailboxBudgetOptions,
  ) {}

  /** Sends within the mailbox's budget: `send` runs (at most 4 at once) when its turn of the minute and the day have room. */
  async send(sender: string, recipients: number, send: () => Promise<void>, now = new Date()): Promise<MailTurn> {
    const mailbox = createHash('sha256').update(sender.toLowerCase()).digest('hex').slice(0, 32);
    const turn = await takeFromSlidingWindow(
      this.rows,
      `${mailbox}|minute`,
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
    const day = await takeFromRollingWindow(
      this.rows,
      `${mailbox}|day`,
      { amount: recipients, limit: this.options.recipientsPerDay, windowMs: DAY_MS, bucketMs: HOUR_MS },
      now.getTime(),
    );
    if (!day.ok)
      return {
        ok: false,
        retryAt: day.roomAt + Math.random() * (MINUTE_MS / 2),
        why: `the mailbox's ${this.options.recipientsPerDay} recipients in 24 hours (MAIL_MAX_RECIPIENTS_PER_DAY)`,
      };
    await this.inFlight(send);
    return { ok: true };
  }
}
