import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import type { InvitationStatus } from '../../shared/core/invitationRecord';
import { clearQueue, createTestDependencies, invitationFor, queueLength, queuedMessages, submit } from '../support/harness';

let deps: AppDependencies;
beforeAll(async () => {
  deps = await createTestDependencies();
});
beforeEach(async () => {
  await clearQueue(deps);
});

/** Stands in for the worker's outcome, which a later issue's tests drive for real. */
async function setStatus(id: string, status: InvitationStatus, extra: Record<string, unknown> = {}) {
  await deps.store.layout.client.updateEntity({ partitionKey: `r${id[0]}`, rowKey: id, status, ...extra }, 'Merge');
}

describe('a person is queued once', () => {
  it('answers the second item with the same email in one batch as a duplicate of the first', async () => {
    const response = await submit(deps, {
      invitations: [invitationFor('ann@contoso-partner.com'), invitationFor('ANN@contoso-partner.com ')],
    });
    expect(response.status).toBe(202);
    const [first, second] = response.json.items;
    expect(first).toMatchObject({ index: 0, duplicate: false, status: 'Queued' });
    expect(second).toMatchObject({ index: 1, id: first.id, duplicate: true, status: 'Queued' });
    expect(await queueLength(deps)).toBe(1);
  });

  it('answers a later batch naming the same person with the existing record and queues nothing', async () => {
    const first = await submit(deps, invitationFor('bob@contoso-partner.com'));
    await clearQueue(deps);
    const again = await submit(deps, { invitations: [invitationFor('bob@contoso-partner.com'), invitationFor('new@contoso-partner.com')] });
    expect(again.json.items[0]).toMatchObject({ id: first.json.items[0].id, duplicate: true, status: 'Queued' });
    expect(again.json.items[1]).toMatchObject({ duplicate: false });
    expect((await queuedMessages(deps)).map((message) => message.id)).toEqual([again.json.items[1].id]);
  });

  it('does not queue an Invited person again', async () => {
    const first = await submit(deps, invitationFor('cy@contoso-partner.com'));
    await setStatus(first.json.items[0].id, 'Invited');
    await clearQueue(deps);
    const again = await submit(deps, invitationFor('cy@contoso-partner.com'));
    expect(again.status).toBe(202);
    expect(again.json.items[0]).toMatchObject({ duplicate: true, status: 'Invited' });
    expect(await queueLength(deps)).toBe(0);
  });

  it.each(['Failed', 'DeadLettered'] as const)('queues a %s person again as a new attempt, clearing the old error', async (status) => {
    const email = `retry-${status.toLowerCase()}@contoso-partner.com`;
    const first = await submit(deps, invitationFor(email));
    const id = first.json.items[0].id;
    await setStatus(id, status, { errorCode: 'ServiceUnavailable', errorMessage: 'down' });
    await clearQueue(deps);
    const again = await submit(deps, { batchId: `again-${status}`, invitations: [invitationFor(email)] });
    expect(again.json.items[0]).toMatchObject({ id, duplicate: false, status: 'Queued' });
    expect(await queuedMessages(deps)).toEqual([{ id, batchId: `again-${status}`, queuedAt: expect.any(String) }]);
    const record = (await deps.store.getById(id))?.record;
    expect(record).toMatchObject({ status: 'Queued', batchId: `again-${status}` });
    expect(record?.error).toBeUndefined();
  });

  it('queues an Invited person again when resend is true', async () => {
    const email = 'resend@contoso-partner.com';
    const first = await submit(deps, invitationFor(email));
    await setStatus(first.json.items[0].id, 'Invited', { invitedUserId: 'old' });
    await clearQueue(deps);
    const again = await submit(deps, invitationFor(email, { resend: true }));
    expect(again.json.items[0]).toMatchObject({ duplicate: false, status: 'Queued' });
    expect(await queueLength(deps)).toBe(1);
    expect((await deps.store.getById(first.json.items[0].id))?.record.invitedUserId).toBeUndefined();
  });

  it('does not queue a person still in flight again, even with resend', async () => {
    const first = await submit(deps, invitationFor('inflight@contoso-partner.com'));
    await setStatus(first.json.items[0].id, 'Processing');
    await clearQueue(deps);
    const again = await submit(deps, invitationFor('inflight@contoso-partner.com', { resend: true }));
    expect(again.json.items[0]).toMatchObject({ duplicate: true, status: 'Processing' });
    expect(await queueLength(deps)).toBe(0);
  });

  it('queues a stale Queued record again (its message was never sent), but not a fresh one', async () => {
    const first = await submit(deps, invitationFor('stale@contoso-partner.com'));
    const id = first.json.items[0].id;
    await clearQueue(deps);
    expect((await submit(deps, invitationFor('stale@contoso-partner.com'))).json.items[0].duplicate).toBe(true);
    await setStatus(id, 'Queued', { queuedAt: new Date(Date.now() - 3_600_000).toISOString() });
    const again = await submit(deps, invitationFor('stale@contoso-partner.com'));
    expect(again.json.items[0]).toMatchObject({ id, duplicate: false, status: 'Queued' });
    expect(await queueLength(deps)).toBe(1);
  });

  it('queues a person at most once when the HR system fires the same webhook in parallel', async () => {
    const emails = Array.from({ length: 5 }, (_, i) => `parallel${i}@contoso-partner.com`);
    const body = { invitations: emails.map((email) => invitationFor(email)) };
    const responses = await Promise.all(Array.from({ length: 8 }, () => submit(deps, body)));
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(202));
    for (const [index] of emails.entries()) {
      const fresh = responses.filter((response) => response.json.items[index].duplicate === false);
      expect(fresh).toHaveLength(1);
    }
    const queued = await queuedMessages(deps);
    expect(queued).toHaveLength(emails.length);
    expect(new Set(queued.map((message) => message.id)).size).toBe(emails.length);
  });

  it('requeues a failed person at most once under parallel resubmissions', async () => {
    const first = await submit(deps, invitationFor('racer@contoso-partner.com'));
    await setStatus(first.json.items[0].id, 'Failed');
    await clearQueue(deps);
    const responses = await Promise.all(Array.from({ length: 6 }, () => submit(deps, invitationFor('racer@contoso-partner.com'))));
    expect(responses.filter((response) => response.json.items[0].duplicate === false)).toHaveLength(1);
    expect(await queueLength(deps)).toBe(1);
  });
});
