import { beforeAll, describe, expect, it } from 'vitest';
import { listBatches } from '../../functions/listBatches';
import type { AppDependencies } from '../../shared/appDependencies';
import { CLIENT_HEADER } from '../../shared/batches/batchSource';
import { clearQueue, createTestDependencies, invitationFor, invokeHttp, submit, writeRecord } from '../support/harness';

let deps: AppDependencies;
const list = (query = '') => invokeHttp(listBatches, deps, { path: `/api/batches${query}` });

beforeAll(async () => {
  deps = await createTestDependencies();
  // Three batches, one after the other: the listing is newest first.
  const first = await submit(deps, { batchId: 'first', invitations: [invitationFor('l1@fabrikam.com'), invitationFor('l2@fabrikam.com')] });
  await writeRecord(deps, first.json.items[0].id, { status: 'Invited' });
  await submit(deps, { batchId: 'second', invitations: [invitationFor('l3@fabrikam.com')] }, { headers: { [CLIENT_HEADER]: 'cli' } });
  await submit(deps, { batchId: 'third', invitations: [invitationFor('l4@fabrikam.com')] }, { headers: { [CLIENT_HEADER]: 'curl' } });
  // A later submission into the first batch does not move it up: a batch is listed by when it began.
  await submit(deps, { batchId: 'first', invitations: [invitationFor('l5@fabrikam.com')] });
  await clearQueue(deps);
});

describe('GET /api/batches', () => {
  it('lists batches newest first, each with its source, creation time and counts', async () => {
    const response = await list();
    expect(response.status).toBe(200);
    expect(response.json.batches.map((batch: { batchId: string }) => batch.batchId)).toEqual(['third', 'second', 'first']);
    const [third, second, first] = response.json.batches;
    expect(third.source).toEqual({ kind: 'api' });
    expect(second.source).toEqual({ kind: 'cli' });
    expect(first).toMatchObject({
      source: { kind: 'api' },
      createdAt: expect.any(String),
      counts: { Queued: 2, Invited: 1, Processing: 0, Failed: 0, DeadLettered: 0 },
      duplicates: 0,
    });
    expect(Date.parse(first.createdAt)).toBeLessThan(Date.parse(third.createdAt));
    expect(response.json.continuationToken).toBeUndefined();
  });

  it('pages with a continuation token', async () => {
    const page1 = await list('?pageSize=2');
    expect(page1.json.batches.map((batch: { batchId: string }) => batch.batchId)).toEqual(['third', 'second']);
    const page2 = await list(`?pageSize=2&continuationToken=${encodeURIComponent(page1.json.continuationToken)}`);
    expect(page2.json.batches.map((batch: { batchId: string }) => batch.batchId)).toEqual(['first']);
    expect(page2.json.continuationToken).toBeUndefined();
  });

  it.each(['?pageSize=0', '?pageSize=101', '?pageSize=ten', '?continuationToken=garbage'])('answers 400 problem for %s', async (query) => {
    const response = await list(query);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
