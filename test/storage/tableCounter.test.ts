import { describe, expect, it } from 'vitest';
import { takeFromCounter, takeFromRollingWindow, takeFromSlidingWindow } from '../../shared/storage/tableCounter';
import { createTestDependencies } from '../support/harness';

/** Counters shared by every instance through one Table row (shared/storage/tableCounter.ts). */
describe('shared counters', () => {
  it('never lets more than the limit through in any sliding window, across a minute’s edge too', async () => {
    const { store } = await createTestDependencies();
    const rows = store.layout.rows('mailbox');
    const key = 'edge|minute';
    const minute = 60_000;
    const start = Math.ceil(Date.now() / minute) * minute;
    // Three sent late in one calendar minute...
    for (const at of [start - 3_000, start - 2_000, start - 1_000])
      expect(await takeFromSlidingWindow(rows, key, 3, minute, at)).toEqual({ ok: true });
    // ...leave no room early in the next: a count per calendar minute would have let three more through.
    expect(await takeFromSlidingWindow(rows, key, 3, minute, start + 1_000)).toEqual({ ok: false, roomAt: start - 3_000 + minute });
    expect(await takeFromSlidingWindow(rows, key, 3, minute, start + minute - 3_000)).toEqual({ ok: true });
  });

  it('keeps a rolling day by the hour: no more than the limit in any 24 hours, across midnight too', async () => {
    const { store } = await createTestDependencies();
    const rows = store.layout.rows('mailbox');
    const key = 'rolling|day';
    const hour = 3_600_000;
    const day = 24 * hour;
    const midnight = Math.ceil(Date.now() / day) * day;
    const take = (amount: number, at: number) => takeFromRollingWindow(rows, key, { amount, limit: 10, windowMs: day, bucketMs: hour }, at);
    // Six recipients at 22:10, four at 23:30: the day's ten...
    expect(await take(6, midnight - 110 * 60_000)).toEqual({ ok: true });
    expect(await take(4, midnight - 30 * 60_000)).toEqual({ ok: true });
    // ...leave no room after midnight (a count per UTC day would have let ten more through), until
    // the 22:00 hour has left the window: at 23:00 the next day.
    expect(await take(1, midnight + 60_000)).toEqual({ ok: false, roomAt: midnight + day - hour });
    expect(await take(7, midnight + day - hour)).toEqual({ ok: false, roomAt: midnight + day });
    expect(await take(6, midnight + day - hour)).toEqual({ ok: true });
    // More than the limit at once never fits: it is not counted.
    expect(await take(11, midnight + 3 * day)).toEqual({ ok: false, roomAt: midnight + 4 * day });
  });

  it('counts concurrent takers once each, and stops at the limit', async () => {
    const { store } = await createTestDependencies();
    const rows = store.layout.rows('resends');
    const key = 'concurrent';
    const taken = await Promise.all(Array.from({ length: 12 }, () => takeFromCounter(rows, key, 1, 8)));
    expect(taken.filter(Boolean)).toHaveLength(8);
    expect((await rows.get<{ count: number }>(key)).count).toBe(8);
  });
});
