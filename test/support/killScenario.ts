import { expect } from 'vitest';
import type { RunningAzurite } from '../../local/azurite';
import type { AppDependencies } from '../../shared/appDependencies';
import { invitationFor } from './harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from './graphEmulator';
import { startLocalHostProcess, stopLocalHostProcess, type LocalHostProcess } from './localHostProcess';

/**
 * SIGKILL of the local host in the middle of a batch, then a restart: every person must end
 * Invited, none lost, and Graph may see no more duplicate calls than invitations were in flight
 * (claimed, Processing) at the kill. Returns the host's output for the log scan.
 */
export async function killHostMidBatch({
  azurite,
  deps,
  people,
  batchId,
  roles,
  env: extraEnv = {},
  item = {},
  prepare,
  afterAllInvited,
}: {
  azurite: RunningAzurite;
  deps: AppDependencies;
  people: number;
  batchId: string;
  /** The app's Graph permissions (default User.Invite.All alone: no lookup before a second call). */
  roles?: string[];
  /** More settings for the host (mail delivery, a NOTIFY_URL). */
  env?: Record<string, string>;
  /** What every item carries besides its address (sendInvitationMessage). */
  item?: Record<string, unknown>;
  /** Sets the emulated tenant up before the host starts (a mailbox). */
  prepare?: (tenant: EmulatedTenant) => void;
  /** Runs once everyone is Invited, while the restarted host still runs (its emails and events go on). */
  afterAllInvited?: (tenant: EmulatedTenant, emails: string[]) => Promise<void>;
}): Promise<{ output: string; inFlight: number; duplicateCalls: number; foundByLookup: number; clientSecret: string; emails: string[] }> {
  const tenant = await startEmulatedTenant({ latencyMs: 100, ...(roles ? { roles } : {}) });
  prepare?.(tenant);
  const env = {
    AzureWebJobsStorage: azurite.connectionString,
    ...tenant.settings,
    GRAPH_MAX_WRITES_PER_SECOND: '40',
    CLAIM_LEASE_SECONDS: '6',
    WORKER_INVOCATION_BUDGET_SECONDS: '4',
    LOCAL_QUEUE_MESSAGE_LEASE_SECONDS: '8',
    ...extraEnv,
  };
  let host: LocalHostProcess | undefined;
  let output = '';
  try {
    host = await startLocalHostProcess(env);
    const emails = Array.from({ length: people }, (_, i) => `${batchId}-${i}@fabrikam.com`);
    const ids: string[] = [];
    for (let start = 0; start < people; start += 1_000) {
      const response = await fetch(`${host.url}/api/invitations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ batchId, invitations: emails.slice(start, start + 1_000).map((email) => invitationFor(email, item)) }),
      });
      expect(response.status).toBe(202);
      ids.push(...((await response.json()) as { items: { id: string }[] }).items.map((item) => item.id));
    }
    const invitedBeforeKill = Math.floor(people / 4);
    await waitFor(async () => tenant.emulator.calls.filter((call) => call.status === 201).length >= invitedBeforeKill, {
      timeoutMs: 60_000,
      what: `${invitedBeforeKill} invitations`,
    });
    await stopLocalHostProcess(host, 'SIGKILL');
    output += host.output();
    const atKill = await Promise.all(ids.map((id) => deps.store.getById(id)));
    const inFlight = atKill.filter((stored) => stored?.record.status === 'Processing').length;
    expect(atKill.filter((stored) => stored?.record.status === 'Invited').length).toBeLessThan(people); // the kill did interrupt the batch

    host = await startLocalHostProcess(env);
    const counts = async () =>
      (await (await fetch(`${host!.url}/api/batches/${batchId}?pageSize=1`)).json()) as { total: number; counts: Record<string, number> };
    await waitFor(async () => (await counts()).counts.Invited === people, { timeoutMs: 120_000, what: `all ${people} Invited` });
    const { total, counts: final } = await counts();
    expect(total).toBe(people);
    expect(final).toMatchObject({ Invited: people, Queued: 0, Processing: 0, Failed: 0, DeadLettered: 0 });
    const duplicateCalls = emails.reduce((sum, email) => sum + Math.max(0, tenant.emulator.callsFor(email).length - 1), 0);
    expect(duplicateCalls).toBeLessThanOrEqual(inFlight);
    const foundByLookup = (await Promise.all(ids.map((id) => deps.store.getById(id)))).filter(
      (stored) => stored?.record.foundByLookup,
    ).length;
    await afterAllInvited?.(tenant, emails);
    await stopLocalHostProcess(host, 'SIGTERM');
    output += host.output();
    return { output, inFlight, duplicateCalls, foundByLookup, clientSecret: tenant.clientSecret, emails };
  } finally {
    await stopLocalHostProcess(host, 'SIGKILL');
    await tenant.emulator.stop();
  }
}
