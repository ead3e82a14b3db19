import { type TableClient } from '@azure/data-tables';
import { isLostRace, isNotFound } from './errors';

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
      if (!isNotFound(error)) throw error;
    }
    if ((row?.count ?? 0) + amount > limit) return false;
    try {
      if (row) await table.updateEntity({ ...key, count: row.count + amount }, 'Replace', { etag: row.etag });
      else await table.createEntity({ ...key, count: amount });
      return true;
    } catch (error) {
      // Another taker counted meanwhile: read again.
      if (isLostRace(error)) continue;
      throw error;
    }
  }
}

/**
 * A sliding window shared by every instance: the row keeps the times of the last takes within
 * `windowMs` (as JSON; `limit` is kept small), moved with a compare-and-swap. Never more than
 * `limit` in any window, however it is cut (a count per calendar minute allows twice that across
 * a minute's edge). Now when there is room, or when the oldest take leaves the window.
 */
export async function takeFromSlidingWindow(
  table: TableClient,
  key: { partitionKey: string; rowKey: string },
  limit: number,
  windowMs: number,
  now = Date.now(),
): Promise<{ ok: true } | { ok: false; roomAt: number }> {
  for (;;) {
    let row: { times: number[]; etag: string } | undefined;
    try {
      const entity = await table.getEntity<{ times: string }>(key.partitionKey, key.rowKey);
      row = { times: JSON.parse(entity.times) as number[], etag: entity.etag };
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const recent = (row?.times ?? []).filter((time) => time > now - windowMs);
    if (recent.length >= limit) return { ok: false, roomAt: recent[recent.length - limit]! + windowMs };
    const times = JSON.stringify([...recent, now]);
    try {
      if (row) await table.updateEntity({ ...key, times }, 'Replace', { etag: row.etag });
      else await table.createEntity({ ...key, times });
      return { ok: true };
    } catch (error) {
      if (isLostRace(error)) continue;
      throw error;
    }
  }
}

/**
 * A rolling window too long to keep each take (a day of a mailbox's recipients): one row holds a
 * count per `bucketMs` (as JSON), moved with a compare-and-swap. A bucket is counted until the
 * window has passed its end, so the window never lets more than `limit` through, however it is
 * cut, and may hold back up to one bucket longer than the exact window would (a count per UTC day
 * let a whole day's limit through on each side of midnight). Now when `amount` fits, or when
 * enough of the oldest buckets have left the window.
 */
export async function takeFromRollingWindow(
  table: TableClient,
  key: { partitionKey: string; rowKey: string },
  { amount, limit, windowMs, bucketMs }: { amount: number; limit: number; windowMs: number; bucketMs: number },
  now = Date.now(),
): Promise<{ ok: true } | { ok: false; roomAt: number }> {
  const bucket = Math.floor(now / bucketMs);
  // A bucket that ended longer than the window ago no longer counts.
  const oldest = bucket - Math.ceil(windowMs / bucketMs);
  const leavesAt = (counted: number) => (counted + 1) * bucketMs + windowMs;
  for (;;) {
    let row: { counts: Record<string, number>; etag: string } | undefined;
    try {
      const entity = await table.getEntity<{ counts: string }>(key.partitionKey, key.rowKey);
      row = { counts: JSON.parse(entity.counts) as Record<string, number>, etag: entity.etag };
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const counts = Object.entries(row?.counts ?? {})
      .map(([at, count]) => [Number(at), count] as const)
      .filter(([at]) => at >= oldest)
      .sort(([a], [b]) => a - b);
    let used = counts.reduce((sum, [, count]) => sum + count, 0);
    if (used + amount > limit) {
      if (amount > limit) return { ok: false, roomAt: now + windowMs };
      // Room comes when enough of the oldest buckets have left the window.
      let roomAt = now;
      for (const [at, count] of counts) {
        if (used + amount <= limit) break;
        used -= count;
        roomAt = leavesAt(at);
      }
      return { ok: false, roomAt };
    }
    const kept = Object.fromEntries(counts.map(([at, count]) => [String(at), count]));
    kept[String(bucket)] = (kept[String(bucket)] ?? 0) + amount;
    const entity = { ...key, counts: JSON.stringify(kept) };
    try {
      if (row) await table.updateEntity(entity, 'Replace', { etag: row.etag });
      else await table.createEntity(entity);
      return { ok: true };
    } catch (error) {
      if (isLostRace(error)) continue;
      throw error;
    }
  }
}
