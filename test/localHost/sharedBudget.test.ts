import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite';
import { createAppDependencies, DEFAULT_RESOURCE_NAMES, type AppDependencies } from '../../shared/appDependencies';
import { loadSettings } from '../../shared/settings';
import { invitationFor } from '../support/harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { startLocalHostProcess, stopLocalHostProcess, type LocalHostProcess } from '../support/localHostProcess';

// Two local hosts, one Azurite and one Graph: the pair shares the app's budget instead of each taking all of it.

describe('two local hosts sharing one Graph budget (a strict 20 writes per 1 s window)', () => {
  let azurite: RunningAzurite;
  let tenant: EmulatedTenant;
  let deps: AppDependencies;
  const hosts: LocalHostProcess[] = [];
  beforeAll(async () => {
    azurite = await startAzurite();
    tenant = await startEmulatedTenant({ latencyMs: 150, writeBudget: { limit: 20, windowMs: 1_000 } });
    deps = await createAppDependencies(loadSettings({ AzureWebJobsStorage: azurite.connectionString }), DEFAULT_RESOURCE_NAMES);
  });
  afterAll(async () => {
    for (const host of hosts) await stopLocalHostProcess(host, 'SIGKILL');
    deps?.credentialCircuit.dispose();
    await tenant?.emulator.stop();
    await azurite?.stop();
  });

  it('stays within the budget together, and neither host is starved', async () => {
    const env = { AzureWebJobsStorage: azurite.connectionString, ...tenant.settings, GRAPH_MAX_WRITES_PER_SECOND: '20' };
    hosts.push(await startLocalHostProcess(env), await startLocalHostProcess(env));
    const emails = Array.from({ length: 300 }, (_, i) => `shared${i}@fabrikam.com`);
    const response = await fetch(`${hosts[0]!.url}/api/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ batchId: 'shared-budget', invitations: emails.map((email) => invitationFor(email)) }),
    });
    expect(response.status).toBe(202);
    // Watch Graph's side, not the batch: the emulator runs in this process, and a batch report read
    // every poll would make it answer late, in bursts, which a strict one-second window refuses.
    await waitFor(async () => tenant.emulator.calls.filter((call) => call.status === 201).length === emails.length, {
      timeoutMs: 90_000,
      what: 'all 300 invited',
    });
    await waitFor(async () => (await deps.batchReports.report('shared-budget', { pageSize: 1 })).counts.Invited === emails.length, {
      timeoutMs: 30_000,
      what: 'all 300 recorded Invited',
    });

    const calls = tenant.emulator.calls;
    const throttled = calls.filter((call) => call.status === 429).length;
    const accepted = calls.filter((call) => call.status === 201).map((call) => call.at);
    const seconds = (Math.max(...accepted) - Math.min(...accepted)) / 1000;
    const start = Math.min(...calls.map((call) => call.at));
    const perSecond = new Map<number, string>();
    for (const call of calls) {
      const second = Math.floor((call.at - start) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? '') + (call.status === 201 ? '.' : call.status === 429 ? 'x' : '?'));
    }
    if (process.env.DEBUG_PACING)
      console.info([...perSecond.entries()].map(([second, marks]) => `${second}: ${marks.length} ${marks}`).join('\n'));
    console.info(
      `[pacing figures] 2 local hosts, strict 20/1 s: ${(emails.length / seconds).toFixed(1)} invitations/s, ${((100 * throttled) / calls.length).toFixed(1)}% of ${calls.length} calls answered 429.`,
    );
    expect(throttled / calls.length).toBeLessThanOrEqual(0.03);
    for (const email of emails) expect(tenant.emulator.callsFor(email).filter((call) => call.status === 201)).toHaveLength(1);
    // Neither host starved: each recorded at least a quarter of the outcomes (a fair split is half).
    for (const host of hosts) {
      const invited = host
        .output()
        .split('\n')
        .filter((line) => / Invited, graphRequestId=/.test(line)).length;
      expect(invited).toBeGreaterThanOrEqual(emails.length / 4);
    }
  }, 150_000);
});
