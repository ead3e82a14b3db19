import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startAzurite, type RunningAzurite } from '../../local/azurite';
import { createAppDependencies, DEFAULT_RESOURCE_NAMES, type AppDependencies } from '../../shared/appDependencies';
import { loadSettings } from '../../shared/settings';
import { invitationFor } from '../support/harness';
import { startEmulatedTenant, waitFor } from '../support/graphEmulator';
import { startLocalHostProcess, stopLocalHostProcess, type LocalHostProcess } from '../support/localHostProcess';

// The local host uses the app's own queue and table names: it gets an Azurite of its own.
let azurite: RunningAzurite;
let deps: AppDependencies;
let host: LocalHostProcess | undefined;

beforeAll(async () => {
  azurite = await startAzurite();
  deps = await createAppDependencies(loadSettings({ AzureWebJobsStorage: azurite.connectionString }), DEFAULT_RESOURCE_NAMES);
});
afterEach(async () => {
  await stopLocalHostProcess(host, 'SIGKILL');
  host = undefined;
});
afterAll(async () => {
  await azurite?.stop();
});

async function postBatch(url: string, batchId: string, emails: string[]) {
  const response = await fetch(`${url}/api/invitations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ batchId, invitations: emails.map((email) => invitationFor(email)) }),
  });
  expect(response.status).toBe(202);
  return (await response.json()) as { batchId: string; items: { id: string }[] };
}

async function batchCounts(url: string, batchId: string) {
  const response = await fetch(`${url}/api/batches/${batchId}?pageSize=1`);
  return ((await response.json()) as { total: number; counts: Record<string, number> });
}

describe('the local host, started as a user starts it', () => {
  it('takes a batch over HTTP and gets every person invited, one Graph call each, on the embedded emulator', async () => {
    const emulatorPort = await freePort();
    host = await startLocalHostProcess({ AzureWebJobsStorage: azurite.connectionString, GRAPH_EMULATOR_PORT: String(emulatorPort) });
    expect(host.output()).toContain('NO REAL INVITATIONS ARE SENT');
    const emails = Array.from({ length: 25 }, (_, i) => `e2e${i}@fabrikam.com`);
    await postBatch(host.url, 'e2e-first', emails);
    await waitFor(async () => (await batchCounts(host!.url, 'e2e-first')).counts.Invited === emails.length, { timeoutMs: 60_000, what: 'every item Invited' });
    const summary = (await (await fetch(`https://localhost:${emulatorPort}/_emulator/summary`)).json()) as { callsPerEmail: Record<string, number> };
    expect(Object.keys(summary.callsPerEmail).sort()).toEqual([...emails].sort());
    expect(Object.values(summary.callsPerEmail).every((calls) => calls === 1)).toBe(true);
    expect(await stopLocalHostProcess(host, 'SIGTERM')).toBe(0);
    expect(host.output()).toContain('Stopped.');
  }, 90_000);

  it('loses nothing when killed (SIGKILL) in the middle of a 300-item batch, and duplicates no more calls than were in flight', async () => {
    const tenant = await startEmulatedTenant({ latencyMs: 100 });
    const env = {
      AzureWebJobsStorage: azurite.connectionString,
      ...tenant.settings,
      GRAPH_MAX_WRITES_PER_SECOND: '40',
      CLAIM_LEASE_SECONDS: '6',
      WORKER_INVOCATION_BUDGET_SECONDS: '4',
      LOCAL_QUEUE_MESSAGE_LEASE_SECONDS: '8',
    };
    try {
      host = await startLocalHostProcess(env);
      const emails = Array.from({ length: 300 }, (_, i) => `kill${i}@fabrikam.com`);
      const { items } = await postBatch(host.url, 'e2e-kill', emails);
      await waitFor(async () => tenant.emulator.calls.filter((call) => call.status === 201).length >= 80, { timeoutMs: 60_000, what: '80 invitations' });
      await stopLocalHostProcess(host, 'SIGKILL');
      const ids = items.map((item) => item.id);
      const atKill = await Promise.all(ids.map((id) => deps.store.getById(id)));
      const inFlight = atKill.filter((stored) => stored?.record.status === 'Processing').length;
      const finalAtKill = atKill.filter((stored) => stored?.record.status === 'Invited').length;
      expect(finalAtKill).toBeLessThan(300); // the kill did interrupt the batch

      host = await startLocalHostProcess(env);
      await waitFor(async () => (await batchCounts(host!.url, 'e2e-kill')).counts.Invited === 300, { timeoutMs: 90_000, what: 'all 300 Invited' });
      const { total, counts } = await batchCounts(host.url, 'e2e-kill');
      expect(total).toBe(300);
      expect(counts).toMatchObject({ Invited: 300, Queued: 0, Processing: 0, Failed: 0, DeadLettered: 0 });
      const duplicateCalls = emails.reduce((sum, email) => sum + Math.max(0, tenant.emulator.callsFor(email).length - 1), 0);
      expect(duplicateCalls).toBeLessThanOrEqual(inFlight);
    } finally {
      await tenant.emulator.stop();
    }
  }, 180_000);
});
