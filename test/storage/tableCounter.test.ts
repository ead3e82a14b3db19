import { describe, expect, it } from 'vitest';
import { takeFromCounter, takeFromSlidingWindow } from '../../shared/storage/tableCounter';
import { createTestDependencies } from '../support/harness';

/** Counters shared by every instance through one Table row (shared/storage/tableCounter.ts). */
describe('shared counters', () => {
  it('never lets more than the limit through in any sliding window, across a minute’s edge too', async () => {
    const { store } = await createTestDependencies();
    const key = { partitionKey: 'mailbox', rowKey: 'edge|minute' };
    const minute = 60_000;
    const start = Math.ceil(Date.now() / minute) * minute;
    // Three sent late in one calendar minute...
    for (const at of [start - 3_000, start - 2_000, start - 1_000])
      expect(await takeFromSlidingWindow(store.table, key, 3, minute, at)).toEqual({ ok: true });
    // ...leave no room early in the next: a count per calendar minute would have let three more through.
    expect(await takeFromSlidingWindow(store.table, key, 3, minute, start + 1_000)).toEqual({ ok: false, roomAt: start - 3_000 + minute });
    expect(await takeFromSlidingWindow(store.table, key, 3, minute, start + minute - 3_000)).toEqual({ ok: true });
  });

  it('counts concurrent takers once each, and stops at the limit', async () => {
    const { store } = await createTestDependencies();
    const key = { partitionKey: 'resends', rowKey: 'concurrent' };
    const taken = await Promise.all(Array.from({ length: 12 }, () => takeFromCounter(store.table, key, 1, 8)));
    expect(taken.filter(Boolean)).toHaveLength(8);
    expect((await store.table.getEntity<{ count: number }>(key.partitionKey, key.rowKey)).count).toBe(8);
  });
});
