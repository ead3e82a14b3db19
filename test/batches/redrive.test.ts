import { beforeAll, describe, expect, it } from 'vitest';
import { redriveBatch } from '../../functions/redriveBatch';
import type { AppDependencies } from '../../shared/appDependencies';
import { clearQueue, createTestDependencies, invitationFor, invokeHttp, queuedMessages, submit, writeRecord } from '../support/harness';

let deps: AppDependencies;
let ids: string[];

const redrive = (batchId: string, body?: unknown) =>
  invokeHttp(redriveBatch, deps, {
    method: 'POST',
    path: `/api/batches/${batchId}/redrive`,
    params: { batchId },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });

beforeAll(async () => {
  deps = await createTestDependencies();
  const response = await submit(deps, {
    batchId: 'redrive',
    invitations: ['a', 'b', 'c', 'd'].map((name) =>
      invitationFor(`${name}@redrive.fabrikam.com`, { invitedUserDisplayName: `Partner ${name}` }),
    ),
  });
  ids = response.json.items.map((item: { id: string }) => item.id);
  await clearQueue(deps);
  await writeRecord(deps, ids[0]!, { status: 'Failed', errorCode: 'BadRequest', errorMessage: 'no' });
  await writeRecord(deps, ids[1]!, { status: 'DeadLettered', errorCode: 'MaxDequeueCountExceeded', errorMessage: 'gave up' });
  await writeRecord(deps, ids[2]!, { status: 'Invited' });
});

describe('POST /api/batches/{batchId}/redrive', () => {
  it('refuses, with a problem naming it, a body that is not what it takes, and changes nothing', async () => {
    for (const body of ['{not json', { ids: [] }, { ids: ['not-an-id'] }, { ids: 'all' }]) {
      const response = await redrive('redrive', body);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    expect(await queuedMessages(deps)).toEqual([]);
  });

  it('submits named people again only if they failed in this batch, and says why not for the others', async () => {
    const response = await redrive('redrive', { ids: [ids[2], ids[3], '0123456789abcdef0123456789abcdef'] });
    expect(response.status).toBe(400);
    expect(response.json.rejected.map((item: { errors: { message: string }[] }) => item.errors[0]!.message)).toEqual([
      'is Invited: only Failed and DeadLettered people are submitted again',
      'is Queued: only Failed and DeadLettered people are submitted again',
      'is not a person of this batch',
    ]);
    expect(await queuedMessages(deps)).toEqual([]);
  });

  it('queues every failed and dead-lettered person again, with the invitation first submitted, and the counts follow', async () => {
    const response = await redrive('redrive');
    expect(response.status).toBe(202);
    expect(response.json.items.map((item: { id: string }) => item.id).sort()).toEqual([ids[0], ids[1]].sort());
    expect(response.json.remaining).toBe(0);
    expect((await queuedMessages(deps)).map((message) => message.id).sort()).toEqual([ids[0], ids[1]].sort());
    const stored = await deps.store.getById(ids[0]!);
    expect(stored?.invitation.invitedUserDisplayName).toBe('Partner a');
    expect(stored?.record.error).toBeUndefined();
    const report = await deps.batchReports.report('redrive');
    expect(report.counts).toMatchObject({ Queued: 3, Failed: 0, DeadLettered: 0, Invited: 1 });
    // Not a row of the batch's results: the results still list its four people, no rejected row.
    expect(report.rejected).toEqual([]);
    await clearQueue(deps);
  });

  it('answers 400 when the batch has nobody to submit again', async () => {
    const response = await redrive('redrive');
    expect(response.status).toBe(400);
    expect(response.json.detail).toContain('no Failed or DeadLettered people');
  });
});
