import { afterEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { startEmulatedTenant, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startWorker, waitForStatus } from '../support/pipeline';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function pipeline(emulatorOptions: Parameters<typeof startEmulatedTenant>[0], env: Record<string, string> = {}) {
  const tenant = await startEmulatedTenant(emulatorOptions);
  const deps = await createTestDependencies({ ...tenant.settings, ...env });
  const logs = new CapturedLogs();
  const running = startWorker(deps, logs);
  cleanup.push(() => tenant.emulator.stop(), () => running.stop());
  return { tenant, deps, logs, running };
}

async function inviteAll(deps: AppDependencies, emails: string[]): Promise<string[]> {
  const response = await submit(deps, { invitations: emails.map((email) => invitationFor(email)) });
  expect(response.status).toBe(202);
  return response.json.items.map((item: { id: string }) => item.id);
}

describe('throttling', () => {
  it("honours a 429's fractional Retry-After for every concurrent call in the process, not just the one that got it", async () => {
    const latencyMs = 30;
    const { tenant, deps } = await pipeline({ latencyMs }, { GRAPH_MAX_WRITES_PER_SECOND: '200' });
    tenant.emulator.script('first@fabrikam.com', [
      { status: 429, headers: { 'retry-after': '1.5' }, body: { error: { code: 'TooManyRequests', message: 'Please retry again later.' } } },
    ]);
    const emails = ['first@fabrikam.com', ...Array.from({ length: 11 }, (_, i) => `other${i}@fabrikam.com`)];
    const ids = await inviteAll(deps, emails);
    await Promise.all(ids.map((id) => waitForStatus(deps, id, 'Invited')));

    const throttled = tenant.emulator.calls.find((call) => call.status === 429)!;
    // The pause is known once the 429 has come back (latency later); calls already on the wire may land meanwhile.
    const pauseKnownAt = throttled.at + latencyMs + 25;
    const pauseEnds = throttled.at + 1_500;
    const during = tenant.emulator.calls.filter((call) => call.at > pauseKnownAt && call.at < pauseEnds);
    expect(during).toEqual([]);
    const retry = tenant.emulator.callsFor('first@fabrikam.com')[1]!;
    expect(retry.at - throttled.at).toBeGreaterThanOrEqual(1_500);
    expect(tenant.emulator.calls.filter((call) => call.at >= pauseEnds).length).toBeGreaterThan(0);
  });

  it('keeps calls under GRAPH_MAX_WRITES_PER_SECOND across concurrent invocations', async () => {
    const { tenant, deps } = await pipeline({ latencyMs: 0 }, { GRAPH_MAX_WRITES_PER_SECOND: '10' });
    const ids = await inviteAll(deps, Array.from({ length: 12 }, (_, i) => `paced${i}@fabrikam.com`));
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

  it('slows down when Graph says more than 80% of a limit is used', async () => {
    // 10 writes per 2 s: from the 9th call on, Graph reports x-ms-throttle-limit-percentage; the pacer stretches its spacing.
    const { tenant, deps } = await pipeline({ latencyMs: 0, writeBudget: { limit: 10, windowMs: 2_000 } }, { GRAPH_MAX_WRITES_PER_SECOND: '50' });
    const ids = await inviteAll(deps, Array.from({ length: 14 }, (_, i) => `slow${i}@fabrikam.com`));
    await Promise.all(ids.map((id) => waitForStatus(deps, id, 'Invited', 30_000)));
    const accepted = tenant.emulator.calls.filter((call) => call.status === 201).map((call) => call.at).sort((a, b) => a - b);
    const gaps = accepted.slice(1).map((at, i) => at - accepted[i]!);
    const early = gaps.slice(0, 6);
    const late = gaps.slice(-3);
    expect(Math.min(...late)).toBeGreaterThan(Math.max(...early));
  }, 40_000);
});
