import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReadBudget } from '../../shared/graph/readBudget';

/** Every user read takes its unit from one budget per process (shared/graph/readBudget.ts). */
describe('the read budget', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lets a $batch of 10 reads go at once at 5 a second, and the next read only 2 s later', async () => {
    vi.useFakeTimers();
    const budget = new ReadBudget(5);
    let done = 0;
    await budget.take(10);
    void budget.take(1).then(() => (done += 1));
    await vi.advanceTimersByTimeAsync(1_999);
    expect(done).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(1);
  });

  it('spaces readers that arrive together, whoever they are (tracker, lookup, sponsors)', async () => {
    vi.useFakeTimers();
    const budget = new ReadBudget(10);
    const finished: number[] = [];
    const start = Date.now();
    for (const units of [20, 1, 1]) void budget.take(units).then(() => finished.push(Date.now() - start));
    await vi.advanceTimersByTimeAsync(3_000);
    expect(finished).toEqual([0, 2_000, 2_100]);
  });
});
