import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { encodeQueueMessage } from '../../shared/storage/invitationQueue';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startWorker, waitForStatus } from '../support/pipeline';

let tenant: EmulatedTenant;
let deps: AppDependencies;
let running: ReturnType<typeof startWorker>;
const logs = new CapturedLogs();

beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 20, blockedDomains: ['blocked-by-xtap.com'] });
  deps = await createTestDependencies({ ...tenant.settings, WORKER_INVOCATION_BUDGET_SECONDS: '10', CLAIM_LEASE_SECONDS: '30' });
  running = startWorker(deps, logs);
});
afterAll(async () => {
  await running?.stop();
  await tenant?.emulator.stop();
});

async function invite(email: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await submit(deps, invitationFor(email, extra));
  expect(response.status).toBe(202);
  return response.json.items[0].id;
}

describe('the worker invites each queued person once', () => {
  it('records Invited with what Graph returned, after exactly one call', async () => {
    const id = await invite('ann@fabrikam.com', { sendInvitationMessage: true, invitedUserDisplayName: 'Ann' });
    const record = await waitForStatus(deps, id, 'Invited');
    expect(record).toMatchObject({
      status: 'Invited',
      attempts: 1,
      invitedUserId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      inviteRedeemUrl: expect.stringContaining('ticket'),
      graphStatus: 'PendingAcceptance',
      graphRequestId: tenant.emulator.callsFor('ann@fabrikam.com')[0]!.requestId,
    });
    expect(record.error).toBeUndefined();
    expect(tenant.emulator.callsFor('ann@fabrikam.com')).toHaveLength(1);
  });

  it.each([
    ['an address in a verified domain of the tenant (400)', 'someone@contoso.com', undefined, 400, 'BadRequest', 'verified domain'],
    ['a domain blocked by cross-tenant access settings (403)', 'x@blocked-by-xtap.com', undefined, 403, 'Forbidden', 'cross-tenant access'],
    // (Entra's suspicious-activity block is a 403 about the tenant: it pauses sending and fails nobody, test/graph/sendingPause.test.ts.)
    [
      'a 404',
      'gone@fabrikam.com',
      { status: 404, code: 'Request_ResourceNotFound', message: 'Resource not found.' },
      404,
      'Request_ResourceNotFound',
      'not found',
    ],
    [
      'another 4xx (409)',
      'conflict@fabrikam.com',
      { status: 409, code: 'Conflict', message: 'The invited user already exists in the directory as objectID: 1.' },
      409,
      'Conflict',
      'already exists',
    ],
  ])(
    "records Failed with Graph's code, message and request-id after exactly one call, for %s",
    async (_, email, scripted, httpStatus, code, message) => {
      if (scripted) {
        tenant.emulator.script(email, [
          {
            status: scripted.status,
            body: { error: { code: scripted.code, message: scripted.message, innerError: { 'request-id': 'req-from-body' } } },
          },
        ]);
      }
      const id = await invite(email);
      const record = await waitForStatus(deps, id);
      expect(record.status).toBe('Failed');
      expect(record.error).toMatchObject({
        code,
        httpStatus,
        message: expect.stringContaining(message),
        graphRequestId: expect.any(String),
      });
      expect(tenant.emulator.callsFor(email)).toHaveLength(1);
      expect(record.attempts).toBe(1);
    },
  );

  it('retries 503 and 504 (with and without Retry-After) and then records Invited', async () => {
    tenant.emulator.script('flaky@fabrikam.com', [{ status: 503, headers: { 'retry-after': '0.3' } }, { status: 504 }, { status: 500 }]);
    const id = await invite('flaky@fabrikam.com');
    const record = await waitForStatus(deps, id, 'Invited');
    const calls = tenant.emulator.callsFor('flaky@fabrikam.com');
    expect(calls.map((call) => call.status)).toEqual([503, 504, 500, 201]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(300);
    expect(record.attempts).toBe(4);
  });

  it('makes one Graph call however often the same message is delivered, even at once', async () => {
    const id = await invite('dup@fabrikam.com');
    const message = encodeQueueMessage({ id, batchId: 'dup', queuedAt: new Date().toISOString() });
    await Promise.all(Array.from({ length: 4 }, () => deps.queue.queue.sendMessage(message)));
    await waitForStatus(deps, id, 'Invited');
    // Give the duplicates time to be delivered and completed; none may call Graph.
    await waitForQueueEmpty();
    expect(tenant.emulator.callsFor('dup@fabrikam.com')).toHaveLength(1);
  });

  it('takes over a claim left by a crashed worker once its lease has expired, and not before', async () => {
    await running.stop(); // hold the worker while we stage a crashed claim
    const id = await invite('crash@fabrikam.com');
    await deps.queue.queue.clearMessages();
    const stored = (await deps.store.getById(id))!;
    const leaseUntil = Date.now() + 1_500;
    await deps.store.replace({
      ...stored.entity,
      status: 'Processing',
      claimedBy: 'crashed-invocation',
      leaseUntil: new Date(leaseUntil).toISOString(),
    });
    await deps.queue.send({ id, batchId: stored.record.batchId, queuedAt: stored.record.queuedAt });
    running = startWorker(deps, logs);
    const record = await waitForStatus(deps, id, 'Invited');
    const [call] = tenant.emulator.callsFor('crash@fabrikam.com');
    expect(call!.at).toBeGreaterThanOrEqual(leaseUntil);
    expect(tenant.emulator.callsFor('crash@fabrikam.com')).toHaveLength(1);
    expect(record.attempts).toBe(1);
    expect(logs.text()).toContain('took over a claim whose lease expired');
  });

  it('does not call Graph again for a person already Invited or Failed', async () => {
    const id = await invite('done@fabrikam.com');
    await waitForStatus(deps, id, 'Invited');
    await deps.queue.send({ id, batchId: 'again', queuedAt: new Date().toISOString() });
    await waitForQueueEmpty();
    expect(tenant.emulator.callsFor('done@fabrikam.com')).toHaveLength(1);
    expect(logs.text()).toContain(`Invitation ${id}: already Invited; no Graph call.`);
  });

  it('logs one line per outcome with id, request-id and duration, emails masked', async () => {
    const id = await invite('logline@fabrikam.com');
    await waitForStatus(deps, id, 'Invited');
    // The line follows the record's write (and its batch's copy): wait for it rather than race it.
    const line = await waitFor(async () => logs.lines.find((entry) => entry.includes(`Invitation ${id}`) && entry.includes('Invited')), {
      what: 'the outcome log line',
    });
    expect(line).toMatch(
      new RegExp(`Invitation ${id} \\(l\\*\\*\\*@fabrikam\\.com\\): Invited, graphRequestId=[0-9a-f-]{36}, 1 call\\(s\\), \\d+ ms\\.`),
    );
    expect(logs.text()).not.toContain('logline@fabrikam.com');
  });
});

async function waitForQueueEmpty() {
  await waitFor(async () => ((await deps.queue.queue.getProperties()).approximateMessagesCount ?? 0) === 0 && running.worker.idle(), {
    what: 'the queue to drain',
  });
}
