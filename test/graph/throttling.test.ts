import { afterEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { invitationFor, submit } from '../support/harness';
import { waitFor, type startEmulatedTenant } from '../support/graphEmulator';
import { startPipeline, waitForStatus } from '../support/pipeline';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

const pipeline = (emulator: Parameters<typeof startEmulatedTenant>[0], env: Record<string, string> = {}) =>
  startPipeline(cleanup, emulator, env);

async function inviteAll(deps: AppDependencies, emails: string[]): Promise<string[]> {
  const response = await submit(deps, { invitations: emails.map((email) => invitationFor(email)) });
  expect(response.status).toBe(202);
  return response.json.items.map((item: { id: string }) => item.id);
}

/** Past the pacer's slow start: it runs at GRAPH_MAX_WRITES_PER_SECOND once 40 calls have gone through. */
async function warmUp(deps: AppDependencies) {
  const ids = await inviteAll(
    deps,
    Array.from({ length: 40 }, (_, i) => `warm${i}@fabrikam.com`),
  );
  await Promise.all(ids.map((id) => waitForStatus(deps, id, 'Invited')));
}

describe('throttling', () => {
  it("honours a 429's fractional Retry-After for every concurrent call in the process, not just the one that got it", async () => {
    const latencyMs = 30;
    const { tenant, deps } = await pipeline({ latencyMs }, { GRAPH_MAX_WRITES_PER_SECOND: '200' });
    tenant.emulator.script('first@fabrikam.com', [
      {
        status: 429,
        headers: { 'retry-after': '1.5' },
        body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } },
      },
    ]);
    const [firstId] = await inviteAll(deps, ['first@fabrikam.com']);
    const throttled = await waitFor(async () => tenant.emulator.calls.find((call) => call.status === 429), { what: 'the 429' });
    // The others come while the process is paused by first@'s answer: not one may call Graph before
    // the pause ends. (Timing their arrival against the pause instead was at the mercy of a loaded
    // machine: a call that took its turn just before the 429 could arrive well after it.)
    const others = await inviteAll(
      deps,
      Array.from({ length: 11 }, (_, i) => `other${i}@fabrikam.com`),
    );
    await Promise.all([firstId!, ...others].map((id) => waitForStatus(deps, id, 'Invited')));

    const pauseEnds = throttled.at + 1_500;
    const early = tenant.emulator.calls.filter((call) => call.email !== 'first@fabrikam.com' && call.at < pauseEnds);
    expect(early).toEqual([]);
    const retry = tenant.emulator.callsFor('first@fabrikam.com')[1]!;
    expect(retry.at - throttled.at).toBeGreaterThanOrEqual(1_500);
    expect(tenant.emulator.calls.filter((call) => call.at >= pauseEnds).length).toBeGreaterThan(0);
  });

  it('keeps calls under GRAPH_MAX_WRITES_PER_SECOND across concurrent invocations', async () => {
    const { tenant, deps } = await pipeline({ latencyMs: 0 }, { GRAPH_MAX_WRITES_PER_SECOND: '10' });
    const ids = await inviteAll(
      deps,
      Array.from({ length: 12 }, (_, i) => `paced${i}@fabrikam.com`),
    );
    await Promise.all(ids.map((id) => waitForStatus(deps, id, 'Invited')));
    const times = tenant.emulator.calls.map((call) => call.at).sort((a, b) => a - b);
    // 12 calls at 10/s, evenly spaced: 11 gaps of 100 ms.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(1_000);
  });

  it('hands a throttled message back with a delay instead of burning its dequeue count, and invites it later', async () => {
    // Budget: 1 write per 3 s; an invocation may wait 1 s. The second person cannot be called in time.
    const { tenant, deps, running, logs } = await pipeline(
      { latencyMs: 0, writeBudget: { limit: 1, windowMs: 3_000 } },
      { WORKER_INVOCATION_BUDGET_SECONDS: '1', GRAPH_MAX_WRITES_PER_SECOND: '50' },
    );
    const ids = await inviteAll(deps, ['one@fabrikam.com', 'two@fabrikam.com', 'three@fabrikam.com']);
    const records = await Promise.all(ids.map((id) => waitForStatus(deps, id, 'Invited', 30_000)));
    expect(records.map((record) => record.status)).toEqual(['Invited', 'Invited', 'Invited']);
    expect(running.worker.failed).toBe(0); // no invocation failed: no dequeue count was burned
    expect(logs.text()).toMatch(/throttled; queued again to run in \d+ s/);
    expect(tenant.emulator.calls.filter((call) => call.status === 201)).toHaveLength(3);
  }, 40_000);

  it('slows down when Graph says a shared limit is over 100% used, before any 429', async () => {
    const { tenant, deps } = await pipeline({ latencyMs: 0 }, { GRAPH_MAX_WRITES_PER_SECOND: '20' });
    tenant.emulator.script('warned@fabrikam.com', [{ status: 201, headers: { 'x-ms-throttle-limit-percentage': '1.8' } }]);
    await warmUp(deps);
    const before = await inviteAll(
      deps,
      Array.from({ length: 6 }, (_, i) => `early${i}@fabrikam.com`),
    );
    await Promise.all(before.map((id) => waitForStatus(deps, id, 'Invited')));
    const [warned] = await inviteAll(deps, ['warned@fabrikam.com']);
    await waitForStatus(deps, warned!, 'Invited');
    const after = await inviteAll(
      deps,
      Array.from({ length: 6 }, (_, i) => `late${i}@fabrikam.com`),
    );
    await Promise.all(after.map((id) => waitForStatus(deps, id, 'Invited')));

    // Spans of six calls (five gaps), measured where they arrive: robust to a call's own jitter.
    const spanOf = (prefix: string) => {
      const times = tenant.emulator.calls.filter((call) => call.email?.startsWith(prefix)).map((call) => call.at);
      return Math.max(...times) - Math.min(...times);
    };
    // 20/s is 50 ms apart (a 250 ms span); after "180% used" the pacer spreads calls 1.85 times further (~460 ms).
    expect(spanOf('early')).toBeLessThan(330);
    expect(spanOf('late')).toBeGreaterThan(1.4 * spanOf('early'));
    expect(tenant.emulator.calls.some((call) => call.status === 429)).toBe(false);
  });

  it('eases off only slightly at 100% of a limit, which pacing at the budget rate reaches by design', async () => {
    const { tenant, deps } = await pipeline({ latencyMs: 0 }, { GRAPH_MAX_WRITES_PER_SECOND: '20' });
    tenant.emulator.script('full@fabrikam.com', [{ status: 201, headers: { 'x-ms-throttle-limit-percentage': '1.0' } }]);
    await warmUp(deps);
    const [full] = await inviteAll(deps, ['full@fabrikam.com']);
    await waitForStatus(deps, full!, 'Invited');
    const after = await inviteAll(
      deps,
      Array.from({ length: 6 }, (_, i) => `steady${i}@fabrikam.com`),
    );
    await Promise.all(after.map((id) => waitForStatus(deps, id, 'Invited')));
    const times = tenant.emulator.calls
      .filter((call) => call.email?.startsWith('steady'))
      .map((call) => call.at)
      .sort((a, b) => a - b);
    const span = times.at(-1)! - times[0]!;
    // Five gaps of ~50.5 ms (1% slower than 50 ms): well under the 1.5× of a heavier slow-down.
    expect(span).toBeGreaterThanOrEqual(5 * 40); // paced (arrival jitter aside)
    expect(span).toBeLessThan(5 * 75);
  });
});
