import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startAzurite, type RunningAzurite } from '../../local/azurite';
import { createAppDependencies, DEFAULT_RESOURCE_NAMES, type AppDependencies } from '../../shared/appDependencies';
import { loadSettings } from '../../shared/settings';
import { invitationFor } from '../support/harness';
import { startEmulatedTenant, waitFor } from '../support/graphEmulator';
import { killHostMidBatch } from '../support/killScenario';
import { USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import { CapturedLogs, startWorker } from '../support/pipeline';
import { expectNoSecretsIn } from '../support/secretScan';

/** Fault tolerance against our own infrastructure: the host killed, storage gone for a while. */

describe('the local host killed (SIGKILL) in the middle of a 500-item batch', () => {
  let azurite: RunningAzurite;
  let deps: AppDependencies;
  beforeAll(async () => {
    azurite = await startAzurite();
    deps = await createAppDependencies(loadSettings({ AzureWebJobsStorage: azurite.connectionString }), DEFAULT_RESOURCE_NAMES);
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('ends with every item final, 0 lost, and no second invitation: the app may read users, so a taken-over claim looks the person up first', async () => {
    const result = await killHostMidBatch({ azurite, deps, people: 500, batchId: 'faults-kill', roles: [USER_INVITE_ALL, USER_READ_ALL] });
    console.info(
      `[fault figures] SIGKILL mid-batch with User.Read.All: 500/500 Invited, ${result.inFlight} in flight at the kill, ${result.foundByLookup} found by lookup, ${result.duplicateCalls} duplicate Graph calls.`,
    );
    expect(result.duplicateCalls).toBe(0);
    expectNoSecretsIn(result.output, { secrets: [result.clientSecret], emails: result.emails });
  }, 300_000);
});

describe('Azurite stopped for 10 s in the middle of a run', () => {
  it('is recovered from by itself, with nothing lost', async () => {
    const location = mkdtempSync(path.join(tmpdir(), 'azurite-outage-'));
    const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    let azurite = await startAzurite({ location, ports });
    // Half-second answers: whenever storage stops, calls are in flight, and Graph answers them during the outage.
    const latencyMs = 500;
    const tenant = await startEmulatedTenant({ latencyMs });
    const settings = loadSettings({
      AzureWebJobsStorage: azurite.connectionString,
      ...tenant.settings,
      GRAPH_MAX_WRITES_PER_SECOND: '20',
      CLAIM_LEASE_SECONDS: '6',
      WORKER_INVOCATION_BUDGET_SECONDS: '4',
    });
    const deps = await createAppDependencies(settings, { queueName: 'outage', tableName: 'Outage' });
    const logs = new CapturedLogs();
    const running = startWorker(deps, logs, { maxDequeueCount: 5, messageLeaseSeconds: 10 });
    try {
      const emails = Array.from({ length: 200 }, (_, i) => `outage${i}@fabrikam.com`);
      const submitted = await deps.intake.submit({
        contentType: 'application/json',
        body: Buffer.from(JSON.stringify({ batchId: 'outage', invitations: emails.map((email) => invitationFor(email)) })),
      });
      expect(submitted.items).toHaveLength(200);
      await waitFor(async () => tenant.emulator.calls.filter((call) => call.status === 201).length >= 40, {
        timeoutMs: 60_000,
        what: '40 invitations',
      });

      const outageStarted = Date.now();
      await azurite.stop();
      // The outage itself lasts 10 s: that is the scenario, not a wait for a condition.
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      azurite = await startAzurite({ location, ports });
      const outageEnded = Date.now();

      let lastCounts: unknown;
      const report = await waitFor(
        async () => {
          const current = await deps.batchReports.report('outage', { pageSize: 1 }).catch(() => undefined);
          lastCounts = current?.counts ?? lastCounts;
          return current && current.counts.Invited === 200 ? current : undefined;
        },
        { timeoutMs: 120_000, what: 'all 200 Invited after the outage' },
      ).catch(async (error: unknown) => {
        // Say where the run stood: the batch's counts against the records themselves.
        const records = await Promise.all(emails.map(async (email) => (await deps.store.findByEmail(email))[0]));
        const notInvited = records.filter((record) => record?.status !== 'Invited').map((record) => `${record?.id} ${record?.status}`);
        throw new Error(
          `${String(error)} Batch counts: ${JSON.stringify(lastCounts)}; records not Invited: ${notInvited.join(', ') || 'none'}.`,
        );
      });
      expect(report.counts).toMatchObject({ Invited: 200, Queued: 0, Processing: 0, Failed: 0, DeadLettered: 0 });
      const duplicates = emails.reduce((sum, email) => sum + Math.max(0, tenant.emulator.callsFor(email).length - 1), 0);
      console.info(`[fault figures] Azurite stopped 10 s: 200/200 Invited, 0 lost, ${duplicates} duplicate Graph calls.`);
      // Outcomes Graph gave during the outage are written once storage is back, never re-asked of Graph.
      expect(duplicates).toBe(0);
      // The outage was felt: Graph answered invitations whose outcomes could only be written after it.
      const answeredDuringOutage = (call: { status: number; at: number }) =>
        call.status === 201 && call.at + latencyMs > outageStarted && call.at + latencyMs < outageEnded;
      expect(tenant.emulator.calls.some(answeredDuringOutage)).toBe(true);
      expectNoSecretsIn(logs.text(), { secrets: [tenant.clientSecret], emails });
    } finally {
      await running.stop();
      await tenant.emulator.stop();
      await azurite.stop();
    }
  }, 200_000);
});
