import { createHash } from 'node:crypto';
import { RestError, type TableClient } from '@azure/data-tables';

/**
 * How many people one caller may have invited again today (INVITE_RESEND_MAX_PER_CALLER_PER_DAY):
 * a per-person limit alone lets a caller mail-bomb many partners, one resend each. One row per
 * caller and UTC day (PartitionKey `resends`, RowKey `<caller hash>|<day>`), counted with a
 * compare-and-swap so that concurrent submissions share it. A caller is who the functions layer
 * could tell apart: an Entra identity with API_CALLER_AUTH=entra; with function keys the host does
 * not say which key was used, so all key holders share one budget.
 */

const PARTITION = 'resends';

export class CallerResendBudget {
  constructor(
    private readonly table: TableClient,
    private readonly maxPerDay: number,
  ) {}

  /** Takes one resend for `caller` today: false when the day's budget is spent. */
  async take(caller: string, now: Date): Promise<boolean> {
    const rowKey = `${createHash('sha256').update(caller).digest('hex').slice(0, 32)}|${now.toISOString().slice(0, 10)}`;
    for (;;) {
      let row: { count: number; etag: string } | undefined;
      try {
        const entity = await this.table.getEntity<{ count: number }>(PARTITION, rowKey);
        row = { count: entity.count, etag: entity.etag };
      } catch (error) {
        if (!(error instanceof RestError && error.statusCode === 404)) throw error;
      }
      if ((row?.count ?? 0) >= this.maxPerDay) return false;
      try {
        if (row) await this.table.updateEntity({ partitionKey: PARTITION, rowKey, count: row.count + 1 }, 'Replace', { etag: row.etag });
        else await this.table.createEntity({ partitionKey: PARTITION, rowKey, count: 1 });
        return true;
      } catch (error) {
        // Another submission counted meanwhile: read again.
        if (error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412)) continue;
        throw error;
      }
    }
  }
}
