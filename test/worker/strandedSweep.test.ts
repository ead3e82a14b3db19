import { InvocationContext, type Timer } from '@azure/functions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requeueStrandedInvitations } from '../../functions/requeueStrandedInvitations';
import type { AppDependencies } from '../../shared/appDependencies';
import { InvitationStore } from '../../shared/storage/invitationStore';
import { encodeQueueMessage } from '../../shared/storage/invitationQueue';
import { StrandedInvitationSweeper } from '../../shared/worker/strandedInvitationSweeper';
import { invitationSchema } from '../../shared/core/invitation';
import { createTestDependencies, invitationFor, queuedMessages } from '../support/harness';
import type { EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startPipeline, waitForStatus } from '../support/pipeline';

/**
 * A record written Queued whose message never made it to the queue (the intake killed between
 * the two writes) is simulated the same way it arises: the record as the intake wrote it, and no
 * message. "An hour ago" is written into the record, since the sweep goes by its updatedAt.
 */

const HOUR_AGO = () => new Date(Date.now() - 3_600_000).toISOString();

async function recordWithoutMessage(deps: AppDependencies, email: string, changes: Record<string, unknown> = {}): Promise<string> {
  // What an intake killed between its two writes leaves: the record (written by the store's own
  // admission), and no message: none is ever sent, so no running worker can race for it.
  const [admission] = await deps.store.admit('stranded', [{ email, invitation: invitationSchema.parse(invitationFor(email)) }]);
  expect(admission?.admission).toBe('created');
  const id = (admission as { record: { id: string } }).record.id;
  await deps.store.layout.client.updateEntity(
    { partitionKey: `r${id[0]}`, rowKey: id, updatedAt: HOUR_AGO(), queuedAt: HOUR_AGO(), ...changes },
    'Merge',
  );
  return id;
}

/** The timer function's real handler, as the host invokes it. */
async function runTimer(deps: AppDependencies, logs = new CapturedLogs()) {
  const context = new InvocationContext({ functionName: requeueStrandedInvitations.name, logHandler: logs.handler });
  await requeueStrandedInvitations.handler(deps)({ isPastDue: false } as Timer, context);
  return logs;
}

describe('requeueStrandedInvitations: a record whose message was lost', () => {
  const cleanup: (() => Promise<void>)[] = [];
  let deps: AppDependencies;
  let tenant: EmulatedTenant;
  beforeAll(async () => {
    ({ deps, tenant } = await startPipeline(cleanup, { latencyMs: 0 }));
  });
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('is queued again, and the worker invites the person with one Graph call', async () => {
    const id = await recordWithoutMessage(deps, 'stranded@fabrikam.com');
    const logs = await runTimer(deps);
    expect(logs.text()).toMatch(/1 invitation\(s\) had lost their queue message and were queued again/);
    const record = await waitForStatus(deps, id, 'Invited');
    expect(tenant.emulator.callsFor('stranded@fabrikam.com')).toHaveLength(1);
    expect(Date.parse(record.queuedAt)).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('what the sweep leaves alone', () => {
  let deps: AppDependencies;
  beforeEach(async () => {
    deps = await createTestDependencies();
  });

  it('queues only records that are Queued and untouched for QUEUED_STALE_AFTER_SECONDS', async () => {
    const stranded = await recordWithoutMessage(deps, 'old-queued@fabrikam.com');
    const recent = await recordWithoutMessage(deps, 'recent@fabrikam.com', { updatedAt: new Date().toISOString() });
    await recordWithoutMessage(deps, 'processing@fabrikam.com', { status: 'Processing', leaseUntil: HOUR_AGO() });
    for (const status of ['Invited', 'Failed', 'DeadLettered'])
      await recordWithoutMessage(deps, `${status.toLowerCase()}@fabrikam.com`, { status });

    await runTimer(deps);
    expect((await queuedMessages(deps)).map((message) => message.id)).toEqual([stranded]);
    expect((await deps.store.getById(recent))?.record.status).toBe('Queued');
  });

  it('waits while any message is in the queue or in the poison queue', async () => {
    const stranded = await recordWithoutMessage(deps, 'waiting@fabrikam.com');
    await deps.queue.queue.sendMessage(encodeQueueMessage({ id: 'f'.repeat(32), batchId: 'other', queuedAt: new Date().toISOString() }));
    expect((await runTimer(deps)).text()).toMatch(/1 message\(s\) still queued; nothing to sweep/);
    await deps.queue.queue.clearMessages();

    await deps.queue.poisonQueue.sendMessage(
      encodeQueueMessage({ id: 'f'.repeat(32), batchId: 'other', queuedAt: new Date().toISOString() }),
    );
    await runTimer(deps);
    expect(await queuedMessages(deps)).toEqual([]);
    await deps.queue.poisonQueue.clearMessages();

    await runTimer(deps);
    expect((await queuedMessages(deps)).map((message) => message.id)).toEqual([stranded]);
  });

  it('does not queue a person again on the next sweep: the requeue is a new attempt from now', async () => {
    const stranded = await recordWithoutMessage(deps, 'twice@fabrikam.com');
    await runTimer(deps);
    expect((await queuedMessages(deps)).map((message) => message.id)).toEqual([stranded]);
    // Even with the queue emptied behind its back, the record is now recent.
    await deps.queue.queue.clearMessages();
    await runTimer(deps);
    expect(await queuedMessages(deps)).toEqual([]);
  });

  it('leaves alone a record that changed between the scan and the requeue (a worker claimed it meanwhile)', async () => {
    const id = await recordWithoutMessage(deps, 'raced@fabrikam.com');
    // The real store, with a worker's claim landing right after the scan: the interleaving to test.
    const racing = new (class extends InvitationStore {
      override async queuedUntouchedSince(before: string) {
        const found = await super.queuedUntouchedSince(before);
        await deps.store.layout.client.updateEntity(
          { partitionKey: `r${id[0]}`, rowKey: id, status: 'Processing', updatedAt: new Date().toISOString() },
          'Merge',
        );
        return found;
      }
    })(deps.store.layout, { queuedStaleAfterMs: deps.settings.QUEUED_STALE_AFTER_SECONDS * 1000 });
    const sweeper = new StrandedInvitationSweeper(racing, deps.queue, deps.batches, { strandedAfterMs: 600_000 });
    expect(await sweeper.sweep()).toMatchObject({ waitingMessages: 0, requeued: 0, leftForNextSweep: 0 });
    expect(await queuedMessages(deps)).toEqual([]);
    expect((await deps.store.getById(id))?.record.status).toBe('Processing');
  });

  it('bounds one sweep and leaves the rest to the next', async () => {
    for (let i = 0; i < 3; i += 1) await recordWithoutMessage(deps, `bounded${i}@fabrikam.com`);
    const sweeper = new StrandedInvitationSweeper(deps.store, deps.queue, deps.batches, { strandedAfterMs: 600_000, maxPerSweep: 2 });
    expect(await sweeper.sweep()).toMatchObject({ waitingMessages: 0, requeued: 2, leftForNextSweep: 1 });
    expect(await sweeper.sweep()).toMatchObject({ waitingMessages: 2, requeued: 0, leftForNextSweep: 0 });
    await deps.queue.queue.clearMessages();
    expect(await sweeper.sweep()).toMatchObject({ waitingMessages: 0, requeued: 1, leftForNextSweep: 0 });
  });
});
