import { createHash } from 'node:crypto';
import { takeFromCounter } from './tableCounter';
import type { PartitionRows } from './tableLayout';

/**
 * How many people one caller may have invited again today (INVITE_RESEND_MAX_PER_CALLER_PER_DAY):
 * a per-person limit alone lets a caller mail-bomb many partners, one resend each. One row per
 * caller and UTC day (PartitionKey `resends`, RowKey `<caller hash>|<day>`), counted with a
 * compare-and-swap so that concurrent submissions share it. A caller is who the functions layer
 * could tell apart: an Entra identity with API_CALLER_AUTH=entra; with function keys the host does
 * not say which key was used, so all key holders share one budget.
 */

export class CallerResendBudget {
  constructor(
    /** The `resends` rows (tableLayout.ts). */
    private readonly rows: PartitionRows,
    private readonly maxPerDay: number,
  ) {}

  /** Takes one resend for `caller` today: false when the day's budget is spent. */
  async take(caller: string, now: Date): Promise<boolean> {
    const rowKey = `${createHash('sha256').update(caller).digest('hex').slice(0, 32)}|${now.toISOString().slice(0, 10)}`;
    return takeFromCounter(this.rows, rowKey, 1, this.maxPerDay);
  }
}
