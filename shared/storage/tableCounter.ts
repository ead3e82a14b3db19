import { RestError, type TableClient } from '@azure/data-tables';

/**
 * A counter shared by every instance: one Table row, added to with a compare-and-swap, so that
 * concurrent takers never pass the limit together (the resend budgets, the mailbox's budget).
 * Whether `amount` more fits under `limit`; when it does, it is counted.
 */
export async function takeFromCounter(
  table: TableClient,
  key: { partitionKey: string; rowKey: string },
  amount: number,
  limit: number,
): Promise<boolean> {
  for (;;) {
    let row: { count: number; etag: string } | undefined;
    try {
      const entity = await table.getEntity<{ count: number }>(key.partitionKey, key.rowKey);
      row = { count: entity.count, etag: entity.etag };
    } catch (error) {
      if (!(error instanceof RestError && error.statusCode === 404)) throw error;
    }
    if ((row?.count ?? 0) + amount > limit) return false;
    try {
      if (row) await table.updateEntity({ ...key, count: row.count + amount }, 'Replace', { etag: row.etag });
      else await table.createEntity({ ...key, count: amount });
      return true;
    } catch (error) {
      // Another taker counted meanwhile: read again.
      if (error instanceof RestError && (error.statusCode === 409 || error.statusCode === 412)) continue;
      throw error;
    }
  }
}
