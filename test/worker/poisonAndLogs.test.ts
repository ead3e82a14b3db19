import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startWorker, waitForStatus } from '../support/pipeline';

let tenant: EmulatedTenant;
let deps: AppDependencies;
let running: ReturnType<typeof startWorker>;
const logs = new CapturedLogs();

beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 0 });
  deps = await createTestDependencies({ ...tenant.settings, WORKER_INVOCATION_BUDGET_SECONDS: '0.5' });
  running = startWorker(deps, logs, { maxDequeueCount: 2 });
});
afterAll(async () => {
  await running?.stop();
  await tenant?.emulator.stop();
});

const invite = async (email: string, extra: Record<string, unknown> = {}) =>
  (await submit(deps, invitationFor(email, extra))).json.items[0].id as string;

describe('poison messages', () => {
  it('records DeadLettered with the last error once the queue gives up, and a new submission re-drives it', async () => {
    tenant.emulator.configure({ faults: { transientShare: 1, transientStatuses: [503], retryAfterShare: 0 } });
    const id = await invite('down@fabrikam.com');
    const record = await waitForStatus(deps, id, 'DeadLettered', 30_000);
    expect(record.error).toMatchObject({ code: 'ServiceUnavailable', httpStatus: 503, graphRequestId: expect.any(String) });
    expect(record.attempts).toBeGreaterThanOrEqual(2);
    expect(tenant.emulator.calls.every((call) => call.status === 503)).toBe(true);

    tenant.emulator.configure({ faults: { transientShare: 0 } });
    const again = await submit(deps, invitationFor('down@fabrikam.com'));
    expect(again.json.items[0]).toMatchObject({ id, duplicate: false, status: 'Queued' });
    const invited = await waitForStatus(deps, id, 'Invited');
    expect(invited.error).toBeUndefined();
  }, 40_000);

  it('drops a poison message whose record is already final without touching it', async () => {
    const id = await invite('finished@fabrikam.com');
    await waitForStatus(deps, id, 'Invited');
    await deps.queue.poisonQueue.sendMessage(Buffer.from(JSON.stringify({ id, batchId: 'x', queuedAt: 'now' })).toString('base64'));
    await waitFor(async () => ((await deps.queue.poisonQueue.getProperties()).approximateMessagesCount ?? 0) === 0, {
      what: 'poison queue to drain',
    });
    expect((await deps.store.getById(id))?.record.status).toBe('Invited');
  });
});

describe('logs', () => {
  it('never carry the client secret, an access token, a redemption ticket or a whole email address', async () => {
    const ids = [await invite('secretive@fabrikam.com'), await invite('quiet@fabrikam.com', { sendInvitationMessage: true })];
    const records = await Promise.all(ids.map((id) => waitForStatus(deps, id, 'Invited')));
    // The outcome's line is logged just after the record is written: wait for it, not only the record.
    await waitFor(async () => ['s***', 'q***'].every((masked) => logs.text().includes(`(${masked}@fabrikam.com): Invited`)), {
      what: 'both outcome lines',
    });
    const text = logs.text();
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(text).not.toContain(tenant.clientSecret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/); // a JWT
    expect(text.toLowerCase()).not.toContain('ticket');
    for (const record of records) {
      expect(text).not.toContain(record.inviteRedeemUrl!);
      expect(text).not.toContain(record.email);
    }
    expect(text).toContain('s***@fabrikam.com');
  });
});
