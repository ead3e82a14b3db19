import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startAzurite, type RunningAzurite } from '../../local/azurite';
import { createAppDependencies, DEFAULT_RESOURCE_NAMES, type AppDependencies } from '../../shared/appDependencies';
import { loadSettings } from '../../shared/settings';
import { invitationFor } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { killHostMidBatch } from '../support/killScenario';
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
  return (await response.json()) as { total: number; counts: Record<string, number> };
}

describe('the local host, started as a user starts it', () => {
  it('takes a batch over HTTP and gets every person invited, one Graph call each, on the embedded emulator', async () => {
    const emulatorPort = await freePort();
    host = await startLocalHostProcess({ AzureWebJobsStorage: azurite.connectionString, GRAPH_EMULATOR_PORT: String(emulatorPort) });
    expect(host.output()).toContain('NO REAL INVITATIONS ARE SENT');
    const emails = Array.from({ length: 25 }, (_, i) => `e2e${i}@fabrikam.com`);
    await postBatch(host.url, 'e2e-first', emails);
    await waitFor(async () => (await batchCounts(host!.url, 'e2e-first')).counts.Invited === emails.length, {
      timeoutMs: 60_000,
      what: 'every item Invited',
    });
    const summary = (await (await fetch(`https://localhost:${emulatorPort}/_emulator/summary`)).json()) as {
      callsPerEmail: Record<string, number>;
    };
    expect(Object.keys(summary.callsPerEmail).sort()).toEqual([...emails].sort());
    expect(Object.values(summary.callsPerEmail).every((calls) => calls === 1)).toBe(true);
    expect(await stopLocalHostProcess(host, 'SIGTERM')).toBe(0);
    expect(host.output()).toContain('Stopped.');
  }, 90_000);

  it('loses nothing when killed (SIGKILL) in the middle of a 300-item batch, and duplicates no more calls than were in flight', async () => {
    await killHostMidBatch({ azurite, deps, people: 300, batchId: 'e2e-kill' });
  }, 240_000);
});
