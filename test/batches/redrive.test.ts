import { beforeAll, describe, expect, it } from 'vitest';
import { redriveBatch } from '../../functions/redriveBatch';
import type { AppDependencies } from '../../shared/appDependencies';
import { clearQueue, createTestDependencies, invitationFor, invokeHttp, queuedMessages, submit, writeRecord } from '../support/harness';
import { startHttpHost } from '../support/pipeline';

let deps: AppDependencies;
let ids: string[];

const redrive = (batchId: string, body?: unknown) =>
  invokeHttp(redriveBatch, deps, {
    method: 'POST',
    path: `/api/batches/${batchId}/redrive`,
    params: { batchId },
    headers: { 'content-type': 'application/json' },
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

  it('never submits an Expired or Removed person again: they had a guest, and only a submission that says so invites them again', async () => {
    await writeRecord(deps, ids[3]!, { status: 'Expired', expiredAction: 'reported' });
    await writeRecord(deps, ids[2]!, { status: 'Removed' });
    const response = await redrive('redrive', { ids: [ids[3], ids[2]] });
    expect(response.status).toBe(400);
    expect(response.json.rejected.map((item: { errors: { message: string }[] }) => item.errors[0]!.message)).toEqual([
      'is Expired: only Failed and DeadLettered people are submitted again',
      'is Removed: only Failed and DeadLettered people are submitted again',
    ]);
    expect(await queuedMessages(deps)).toEqual([]);
  });

  it('takes a POST only with a Content-Type a web page on another site cannot send unasked (CSRF), over real HTTP', async () => {
    const host = await startHttpHost(deps);
    try {
      const url = `${host.url}/api/batches/redrive/redrive`;
      const refused: [Record<string, string>, string | undefined][] = [
        [{}, undefined],
        [{ 'content-type': 'text/plain' }, '{}'],
        [{ 'content-type': 'application/x-www-form-urlencoded' }, 'ids=x'],
      ];
      for (const [headers, body] of refused) {
        const response = await fetch(url, { method: 'POST', headers, ...(body ? { body } : {}) });
        expect(response.status).toBe(415);
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(await response.text()).toContain('application/json');
      }
      expect(await queuedMessages(deps)).toEqual([]);
      const json = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(json.status).toBe(400); // now read: nobody of this batch is left to submit again
    } finally {
      await host.stop();
    }
  });

  it('answers 400 when the batch has nobody to submit again', async () => {
    const response = await redrive('redrive');
    expect(response.status).toBe(400);
    expect(response.json.detail).toContain('no Failed or DeadLettered people');
  });
});
