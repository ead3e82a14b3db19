import { isLostRace } from './errors';
import type { PartitionRows } from './tableLayout';

/**
 * Counters shared by every instance (the resend budgets, the mailbox's budget): each is one Table
 * row moved with a compare-and-swap, so that concurrent takers never pass the limit together.
 */

type Decision<Row, Answer> = { answer: Answer; write?: Row };
/** Now, or when there will be room. */
type Turn = { ok: true } | { ok: false; roomAt: number };

/**
 * Reads the row (or finds none), lets `decide` say what to answer and what the row becomes, and
 * writes that under the ETag it read (or creates the row). When another writer got there first
 * (409, 412), it reads again and decides again. A decision without `write` changes nothing.
 */
async function swapRow<Row extends object, Answer>(
  rows: PartitionRows,
  rowKey: string,
  decide: (row: Row | undefined) => Decision<Row, Answer>,
): Promise<Answer> {
  for (;;) {
    const current = await rows.find<Row>(rowKey);
    const { answer, write } = decide(current);
    if (!write) return answer;
    try {
      if (current) await rows.update(rowKey, write, 'Replace', current.etag);
      else await rows.create(rowKey, write);
      return answer;
    } catch (error) {
      if (isLostRace(error)) continue;
      throw error;
    }
  }
}

/** Whether `amount` more fits under `limit` in the counter; when it does, it is counted. */
export async function takeFromCounter(rows: PartitionRows, rowKey: string, amount: number, limit: number): Promise<boolean> {
  return swapRow<{ count: number }, boolean>(rows, rowKey, (row) => {
    const count = (row?.count ?? 0) + amount;
    return count > limit ? { answer: false } : { answer: true, write: { count } };
  });
}

/**
 * A sliding window: the row keeps the times of the last takes within `windowMs` (as JSON; `limit`
 * is kept small). Never more than `limit` in any window, however it is cut (a count per calendar
 * minute allows twice that across a minute's edge). Now when there is room, or when the oldest
 * take leaves the window.
 */
export async function takeFromSlidingWindow(
  rows: PartitionRows,
  rowKey: string,
  limit: number,
  windowMs: number,
  now = Date.now(),
): Promise<Turn> {
  return swapRow<{ times: string }, Turn>(rows, rowKey, (row) => {
    const recent = (row ? (JSON.parse(row.times) as number[]) : []).filter((time) => time > now - windowMs);
    if (recent.length >= limit) return { answer: { ok: false, roomAt: recent[recent.length - limit]! + windowMs } };
    return { answer: { ok: true }, write: { times: JSON.stringify([...recent, now]) } };
  });
}

/**
 * A rolling window too long to keep each take (a day of a mailbox's recipients): the row holds a
 * count per `bucketMs` (as JSON). A bucket is counted until the window has passed its end, so the
 * window never lets more than `limit` through, however it is cut, and may hold back up to one
 * bucket longer than the exact window would (a count per UTC day let a whole day's limit through on
 * each side of midnight). Now when `amount` fits, or when enough of the oldest buckets have left
 * the window.
 */
export async function takeFromRollingWindow(
  rows: PartitionRows,
  rowKey: string,
  { amount, limit, windowMs, bucketMs }: { amount: number; limit: number; windowMs: number; bucketMs: number },
  now = Date.now(),
): Promise<Turn> {
  const bucket = Math.floor(now / bucketMs);
  // A bucket that ended longer than the window ago no longer counts.
  const oldest = bucket - Math.ceil(windowMs / bucketMs);
  const leavesAt = (counted: number) => (counted + 1) * bucketMs + windowMs;
  return swapRow<{ counts: string }, Turn>(rows, rowKey, (row) => {
    const counts = Object.entries(row ? (JSON.parse(row.counts) as Record<string, number>) : {})
      .map(([at, count]) => [Number(at), count] as const)
      .filter(([at]) => at >= oldest)
      .sort(([a], [b]) => a - b);
    let used = counts.reduce((sum, [, count]) => sum + count, 0);
    if (used + amount > limit) {
      if (amount > limit) return { answer: { ok: false, roomAt: now + windowMs } };
      // Room comes when enough of the oldest buckets have left the window.
      let roomAt = now;
      for (const [at, count] of counts) {
        if (used + amount <= limit) break;
        used -= count;
        roomAt = leavesAt(at);
      }
      return { answer: { ok: false, roomAt } };
    }
    const kept = Object.fromEntries(counts.map(([at, count]) => [String(at), count]));
    kept[String(bucket)] = (kept[String(bucket)] ?? 0) + amount;
    return { answer: { ok: true }, write: { counts: JSON.stringify(kept) } };
  });
}
