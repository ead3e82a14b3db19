import { afterEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { invitationFor, submit } from '../support/harness';
import { type startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { type CapturedLogs, startPipeline } from '../support/pipeline';
import { expectNoSecretsIn } from '../support/secretScan';

/**
 * Fault tolerance against Graph: transient failures, a throttle storm and permanent refusals,
 * through the real intake, queue trigger, worker and credentials, against the emulator.
 */

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

const pipeline = (emulator: Parameters<typeof startEmulatedTenant>[0], env: Record<string, string> = {}) =>
  startPipeline(cleanup, emulator, env, { maxDequeueCount: 5 });

async function submitPeople(deps: AppDependencies, emails: string[]): Promise<string> {
  const batchId = `faults-${Date.now()}`;
  for (let start = 0; start < emails.length; start += 1_000) {
    const response = await submit(deps, { batchId, invitations: emails.slice(start, start + 1_000).map((email) => invitationFor(email)) });
    expect(response.status).toBe(202);
  }
  return batchId;
}

async function waitUntilFinal(deps: AppDependencies, batchId: string, timeoutMs: number) {
  return waitFor(
    async () => {
      const report = await deps.batchReports.report(batchId, { pageSize: 1 });
      return report.counts.Queued + report.counts.Processing === 0 ? report : undefined;
    },
    { timeoutMs, what: `batch ${batchId} to be final` },
  );
}

function expectCleanLogs(tenant: EmulatedTenant, logs: CapturedLogs, emails: string[]) {
  expectNoSecretsIn(logs.text(), { secrets: [tenant.clientSecret], emails });
}

describe('Graph faults', () => {
  it('gets 100% Invited and 0 DeadLettered when 30% of Graph calls answer 503 or 504', async () => {
    const { tenant, deps, logs } = await pipeline(
      { latencyMs: 20, faults: { transientShare: 0.3, transientStatuses: [503, 504], retryAfterShare: 0.5, retryAfterSeconds: 1 } },
      { GRAPH_MAX_WRITES_PER_SECOND: '100' },
    );
    const emails = Array.from({ length: 200 }, (_, i) => `flaky${i}@fabrikam.com`);
    const report = await waitUntilFinal(deps, await submitPeople(deps, emails), 120_000);
    expect(report.counts).toMatchObject({ Invited: 200, Failed: 0, DeadLettered: 0 });
    const statuses = tenant.emulator.summary().statuses;
    expect((statuses['503'] ?? 0) + (statuses['504'] ?? 0)).toBeGreaterThan(35); // the faults did happen
    console.info(
      `[fault figures] 30% 503/504: 200/200 Invited, 0 DeadLettered; Graph answered ${statuses['503'] ?? 0}×503 and ${statuses['504'] ?? 0}×504 of ${tenant.emulator.calls.length} calls.`,
    );
    expectCleanLogs(tenant, logs, emails);
  }, 150_000);

  // 250 people at 5/s: 50 s of storm, long enough for the pacer to be corrected many times over.
  it('gets every person Invited and 0 DeadLettered through a throttle storm (budget 5 writes/s, 250 people)', async () => {
    const { tenant, deps, logs } = await pipeline(
      { latencyMs: 20, writeBudget: { limit: 25, windowMs: 5_000 } },
      // The worker believes in 20 writes/s and gives each invocation 5 s: Graph's 429s must correct it.
      { GRAPH_MAX_WRITES_PER_SECOND: '20', WORKER_INVOCATION_BUDGET_SECONDS: '5' },
    );
    const emails = Array.from({ length: 250 }, (_, i) => `storm${i}@fabrikam.com`);
    const report = await waitUntilFinal(deps, await submitPeople(deps, emails), 240_000);
    expect(report.counts).toMatchObject({ Invited: 250, Failed: 0, DeadLettered: 0 });
    expect(tenant.emulator.summary().statuses['429']).toBeGreaterThan(0); // it was a storm
    const accepted = tenant.emulator.calls.filter((call) => call.status === 201).map((call) => call.at);
    console.info(
      `[fault figures] throttle storm: 250/250 Invited, 0 DeadLettered; ${tenant.emulator.summary().statuses['429']} calls answered 429; ${((Math.max(...accepted) - Math.min(...accepted)) / 1000).toFixed(0)} s at a 5/s budget.`,
    );
    for (const email of emails) expect(tenant.emulator.callsFor(email).filter((call) => call.status === 201)).toHaveLength(1);
    expectCleanLogs(tenant, logs, emails);
  }, 300_000);

  it('calls Graph exactly once for each permanent refusal (400, 403) and records Failed with its code', async () => {
    const { tenant, deps, logs } = await pipeline({ latencyMs: 10, verifiedDomains: ['contoso.com'], blockedDomains: ['blocked.example'] });
    tenant.emulator.script('scripted400@fabrikam.com', [
      { status: 400, body: { error: { code: 'BadRequest', message: 'Unable to find target address' } } },
    ]);
    // (Entra's abuse block is a 403 too, but about the tenant: it pauses sending and fails nobody, test/graph/sendingPause.test.ts.)
    const refused = {
      'colleague@contoso.com': ['BadRequest', 400],
      'partner@blocked.example': ['Forbidden', 403],
      'scripted400@fabrikam.com': ['BadRequest', 400],
    } as const;
    const emails = Object.keys(refused);
    const batchId = await submitPeople(deps, emails);
    const report = await waitUntilFinal(deps, batchId, 60_000);
    expect(report.counts).toMatchObject({ Failed: 3, Invited: 0 });
    for (const item of report.items) {
      const [code, httpStatus] = refused[item.email as keyof typeof refused];
      expect(item.error).toMatchObject({ code, httpStatus });
      expect(tenant.emulator.callsFor(item.email)).toHaveLength(1);
    }
    expectCleanLogs(tenant, logs, emails);
  }, 90_000);

  it('records a cut 201 as Invited with details missing, after exactly one call each, for 100 people of whom 30% are cut', async () => {
    const { tenant, deps, logs } = await pipeline(
      { latencyMs: 10, faults: { cutCreatedShare: 0.3 } },
      { GRAPH_MAX_WRITES_PER_SECOND: '100' },
    );
    const emails = Array.from({ length: 100 }, (_, i) => `cut${i}@fabrikam.com`);
    const report = await waitUntilFinal(deps, await submitPeople(deps, emails), 90_000);
    expect(report.counts).toMatchObject({ Invited: 100, Failed: 0, DeadLettered: 0 });
    const cut = tenant.emulator.calls.filter((call) => call.cut).length;
    expect(cut).toBeGreaterThan(10); // the faults did happen
    for (const email of emails) expect(tenant.emulator.callsFor(email)).toHaveLength(1);
    const missing = (await deps.batchReports.report(report.batchId, { pageSize: 100 })).items.filter((item) => item.detailsMissing).length;
    expect(missing).toBe(cut);
    console.info(
      `[fault figures] cut 201s: 100/100 Invited with exactly 1 call each; ${cut} bodies cut, ${missing} recorded "details missing".`,
    );
    expectCleanLogs(tenant, logs, emails);
  }, 120_000);

  it('fails nobody through a 10 s token outage: health says 503, then 200, and everyone is Invited', async () => {
    const { tenant, deps, logs } = await pipeline({ latencyMs: 10 }, { GRAPH_SIGNIN_PROBE_SECONDS: '1' });
    cleanup.push(async () => deps.credentialCircuit.dispose());
    const warm = await submitPeople(deps, ['before-outage@fabrikam.com']);
    await waitUntilFinal(deps, warm, 30_000);
    tenant.emulator.revokeIssuedTokens(); // the cached token is gone: every call needs a new one
    tenant.emulator.configure({ tokenFaults: { refuseCredentialsForMs: 10_000 } });
    const outageStarted = Date.now();
    const emails = Array.from({ length: 50 }, (_, i) => `outage${i}@fabrikam.com`);
    const batchId = await submitPeople(deps, emails);
    const unhealthy = await waitFor(
      async () => {
        const report = await deps.health.report(deps.queue);
        return report.healthy ? undefined : report;
      },
      { what: 'health to report the failing sign-in' },
    );
    expect(unhealthy.graphCredential).toMatchObject({ state: 'failing', code: 'AADSTS7000215' });
    const report = await waitUntilFinal(deps, batchId, 60_000);
    expect(report.counts).toMatchObject({ Invited: 50, Failed: 0, DeadLettered: 0 });
    expect((await deps.health.report(deps.queue)).healthy).toBe(true);
    for (const email of emails) expect(tenant.emulator.callsFor(email).filter((call) => call.status === 201)).toHaveLength(1);
    console.info(
      `[fault figures] 10 s token outage: 50/50 Invited, 0 Failed, 0 DeadLettered; health 503 during it, 200 after; done ${((Date.now() - outageStarted) / 1000).toFixed(1)} s after it began.`,
    );
    expectCleanLogs(tenant, logs, emails);
  }, 90_000);
});
