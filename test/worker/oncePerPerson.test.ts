import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { decodeQueueMessage } from '../../shared/storage/invitationQueue';
import { signBody } from '../../shared/core/webhookSignature';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startWorker, waitForStatus } from '../support/pipeline';

// Graph is called once per person because of us, never more: what happens after Graph acted.

let tenant: EmulatedTenant;
let deps: AppDependencies;
let running: ReturnType<typeof startWorker> | undefined;
const logs = new CapturedLogs();

beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 0 });
  // A short lease, so that what happens at its end can be watched.
  deps = await createTestDependencies({ ...tenant.settings, WORKER_INVOCATION_BUDGET_SECONDS: '1', CLAIM_LEASE_SECONDS: '6' });
});
afterAll(async () => {
  await running?.stop();
  deps?.credentialCircuit.dispose();
  await tenant?.emulator.stop();
});

const invite = async (email: string) => (await submit(deps, invitationFor(email))).json.items[0].id as string;
const noLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

describe('a 201 whose body is lost', () => {
  it('records Invited with the request-id and "details missing", after exactly one call, and never calls again', async () => {
    running ??= startWorker(deps, logs);
    tenant.emulator.script('cut@fabrikam.com', [{ status: 201, cut: true }]);
    const id = await invite('cut@fabrikam.com');
    const record = await waitForStatus(deps, id);
    const calls = tenant.emulator.callsFor('cut@fabrikam.com');
    expect(calls).toEqual([expect.objectContaining({ status: 201, cut: true })]);
    expect(record).toMatchObject({ status: 'Invited', detailsMissing: true, graphRequestId: calls[0]!.requestId, attempts: 1 });
    expect(record.inviteRedeemUrl).toBeUndefined();

    // The same message again (a redelivery, a duplicate): the person is final, Graph is not called.
    await deps.queue.send({ id, batchId: record.batchId, queuedAt: record.queuedAt });
    await waitFor(async () => logs.text().includes(`Invitation ${id}: already Invited; no Graph call.`), {
      what: 'the redelivery to be dropped',
    });
    expect(tenant.emulator.callsFor('cut@fabrikam.com')).toHaveLength(1);
    expect(logs.text()).toContain('details missing, not called again');
  });

  it('records the same for a 201 whose body is not what Graph documents', async () => {
    running ??= startWorker(deps, logs);
    tenant.emulator.script('odd@fabrikam.com', [{ status: 201, body: { unexpected: true } }]);
    const record = await waitForStatus(deps, await invite('odd@fabrikam.com'));
    expect(record).toMatchObject({ status: 'Invited', detailsMissing: true, attempts: 1 });
    expect(tenant.emulator.callsFor('odd@fabrikam.com')).toHaveLength(1);
  });
});

describe('calls that hang', () => {
  it('abandons a Graph call that outlives its time, well inside the claim lease', async () => {
    running ??= startWorker(deps, logs);
    tenant.emulator.configure({ latencyMs: 20_000 });
    try {
      const id = await invite('slow@fabrikam.com');
      const claimed = await waitForStatus(deps, id, 'Processing');
      const leaseUntil = Date.parse((await deps.store.getById(id))!.entity.leaseUntil!);
      // Released for the queue's retry, with the timeout as its error, before the lease ends.
      const released = await waitFor(
        async () => {
          const stored = await deps.store.getById(id);
          return stored?.record.error?.code === 'Timeout' ? stored : undefined;
        },
        { what: 'the call to time out' },
      );
      expect(Date.parse(released.record.updatedAt)).toBeLessThan(leaseUntil);
      expect(Date.parse(claimed.updatedAt)).toBeLessThan(leaseUntil);
    } finally {
      tenant.emulator.configure({ latencyMs: 0 });
    }
  });
});

describe('a message for a person another invocation holds', () => {
  it('is deferred a few times briefly, then once until the lease ends, and then takes the claim over', async () => {
    await running?.stop();
    running = undefined;
    const id = await invite('held@fabrikam.com');
    await deps.queue.queue.clearMessages();
    const held = await deps.store.getById(id);
    const leaseUntil = Date.now() + 6_000;
    await deps.store.replace({
      ...held!.entity,
      status: 'Processing',
      claimedBy: 'another-invocation',
      leaseUntil: new Date(leaseUntil).toISOString(),
    });
    const message = { id, batchId: held!.record.batchId, queuedAt: held!.record.queuedAt };

    // Early deferrals look again within seconds; past the fifth, the wait reaches the lease's end.
    const deferredAt = Date.now();
    expect(await deps.worker.process({ ...message, deferrals: 0 }, 'me', noLog)).toBe('deferred');
    const early = await nextMessage();
    expect(early.message).toMatchObject({ id, deferrals: 1 });
    expect(early.visibleAt - deferredAt).toBeLessThan(leaseUntil - deferredAt);

    expect(await deps.worker.process({ ...message, deferrals: 5 }, 'me', noLog)).toBe('deferred');
    const late = await nextMessage();
    expect(late.message).toMatchObject({ id, deferrals: 6 });
    expect(late.visibleAt).toBeGreaterThanOrEqual(leaseUntil);

    // That message, delivered when the lease has ended, takes the claim over.
    await deps.queue.send(late.message as typeof message);
    running = startWorker(deps, logs);
    const record = await waitForStatus(deps, id, 'Invited', 15_000);
    expect(tenant.emulator.callsFor('held@fabrikam.com')[0]!.at).toBeGreaterThanOrEqual(leaseUntil);
    expect(record.attempts).toBe(1);
  });
});

/** Receives the one message the worker sent back (waiting for it to become visible) and says when it did. */
async function nextMessage(): Promise<{ message: Record<string, unknown>; visibleAt: number }> {
  return waitFor(
    async () => {
      const [received] = (await deps.queue.queue.receiveMessages({ numberOfMessages: 1 })).receivedMessageItems;
      if (!received) return undefined;
      await deps.queue.queue.deleteMessage(received.messageId, received.popReceipt);
      return { message: decodeQueueMessage(received.messageText) as Record<string, unknown>, visibleAt: Date.now() };
    },
    { timeoutMs: 15_000, what: 'the deferred message' },
  );
}

describe('a signed resend sent twice', () => {
  it('calls Graph once: the replayed signature gets the first answer and queues nothing', async () => {
    const secret = 'hr-webhook-secret-of-at-least-32-bytes';
    const signed = await startEmulatedTenant({ latencyMs: 0 });
    const signedDeps = await createTestDependencies({ ...signed.settings, INTAKE_HMAC_SECRET: secret });
    const worker = startWorker(signedDeps);
    try {
      const sendSigned = (body: string) => submit(signedDeps, body, { headers: { 'x-signature': signBody(secret, body) } });
      const first = await sendSigned(JSON.stringify(invitationFor('resent@fabrikam.com')));
      await waitForStatus(signedDeps, first.json.items[0].id, 'Invited');

      const resend = JSON.stringify(invitationFor('resent@fabrikam.com', { resend: true }));
      const signature = signBody(secret, resend);
      const once = await submit(signedDeps, resend, { headers: { 'x-signature': signature } });
      expect(once.json.items[0]).toMatchObject({ status: 'Queued', duplicate: false });
      await waitFor(
        async () =>
          signed.emulator.callsFor('resent@fabrikam.com').length === 2 &&
          (await signedDeps.store.getById(once.json.items[0].id))?.record.status === 'Invited',
        { what: 'the resend' },
      );
      // The worker deletes the message after it has written the outcome (and its batch's copy).
      await waitFor(async () => (await signedDeps.queue.queue.getProperties()).approximateMessagesCount === 0, {
        what: "the resend's message to be done",
      });

      const twice = await submit(signedDeps, resend, { headers: { 'x-signature': signature } });
      expect(twice.json).toEqual(once.json);
      expect(twice.headers.get('idempotent-replayed')).toBe('true');
      expect((await signedDeps.queue.queue.getProperties()).approximateMessagesCount).toBe(0);
      expect(signed.emulator.callsFor('resent@fabrikam.com')).toHaveLength(2);
    } finally {
      await worker.stop();
      signedDeps.credentialCircuit.dispose();
      await signed.emulator.stop();
    }
  });
});
