import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { findInvitations } from '../../functions/findInvitations';
import { getBatch } from '../../functions/getBatch';
import { getInvitation } from '../../functions/getInvitation';
import { getRedeemUrl } from '../../functions/getRedeemUrl';
import type { AppDependencies } from '../../shared/appDependencies';
import { RESULTS_CSV_COLUMNS } from '../../shared/batches/batchReports';
import { clearQueue, createTestDependencies, invitationFor, invokeHttp, submit, writeRecord } from '../support/harness';

let deps: AppDependencies;
let batchId: string;
let ids: string[];
const SECRET_URL = 'https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem%2f%3fticket%3dSECRET';

beforeAll(async () => {
  deps = await createTestDependencies();
  const invitations = Array.from({ length: 25 }, (_, i) => invitationFor(`p${i}@fabrikam.com`, { externalId: `HR-${i}` }));
  invitations.push(invitationFor('p0@fabrikam.com')); // a duplicate inside the batch
  const response = await submit(deps, { batchId: 'onboarding-week-47', invitations });
  batchId = response.json.batchId;
  ids = response.json.items.map((item: { id: string }) => item.id);
  await clearQueue(deps);
  // The outcomes the worker would record: one invited (with its redemption URL), one failed.
  await writeRecord(deps, ids[0]!, {
    status: 'Invited',
    invitedUserId: 'guest-0',
    inviteRedeemUrl: SECRET_URL,
    graphStatus: 'PendingAcceptance',
  });
  await writeRecord(deps, ids[1]!, {
    status: 'Failed',
    errorCode: 'BadRequest',
    errorMessage: 'Unable to find target address',
    errorHttpStatus: 400,
    errorGraphRequestId: 'req-1',
  });
});

const get = (
  definition: Parameters<typeof invokeHttp>[0],
  path: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
) => invokeHttp(definition, deps, { path, params, headers });

describe('GET /api/invitations/{id}', () => {
  it('returns the record without its redemption URL, which only the admin-keyed route gives', async () => {
    expect(getInvitation.authLevel).toBe('function');
    expect(getRedeemUrl.authLevel).toBe('admin');
    const redeem = await get(getRedeemUrl, `/api/invitations/${ids[0]}/redeem-url`, { id: ids[0]! });
    expect(redeem.json).toEqual({ id: ids[0], inviteRedeemUrl: SECRET_URL });
    const notYet = await get(getRedeemUrl, `/api/invitations/${ids[2]}/redeem-url`, { id: ids[2]! });
    expect(notYet.status).toBe(404);
    const response = await get(getInvitation, `/api/invitations/${ids[0]}`, { id: ids[0]! });
    expect(response.text).not.toContain(SECRET_URL);
    expect(response.json.inviteRedeemUrl).toBeUndefined();
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      id: ids[0],
      batchId,
      email: 'p0@fabrikam.com',
      externalId: 'HR-0',
      status: 'Invited',
      attempts: 0,
      invitedUserId: 'guest-0',
      graphStatus: 'PendingAcceptance',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
  });

  it('returns a failed record with its error', async () => {
    const response = await get(getInvitation, `/api/invitations/${ids[1]}`, { id: ids[1]! });
    expect(response.json.error).toEqual({
      code: 'BadRequest',
      message: 'Unable to find target address',
      httpStatus: 400,
      graphRequestId: 'req-1',
    });
  });

  it.each(['0123456789abcdef0123456789abcdef', 'not-an-id', '..%2f..'])('answers 404 problem for %s', async (id) => {
    const response = await get(getInvitation, `/api/invitations/${id}`, { id });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('GET /api/invitations?email=… and ?externalId=…', () => {
  it('finds a record by email, case-insensitively, without its redemption URL', async () => {
    const response = await get(findInvitations, '/api/invitations?email=P0%40Fabrikam.com');
    expect(response.status).toBe(200);
    expect(response.json.items).toHaveLength(1);
    expect(response.json.items[0]).toMatchObject({ id: ids[0], status: 'Invited' });
    expect(response.text).not.toContain('ticket');
  });

  it("finds a record by the caller's externalId", async () => {
    const response = await get(findInvitations, '/api/invitations?externalId=HR-7');
    expect(response.json.items.map((record: { email: string }) => record.email)).toEqual(['p7@fabrikam.com']);
  });

  it('finds nothing for an unknown key, and does not confuse prefixes', async () => {
    expect((await get(findInvitations, '/api/invitations?externalId=HR-99')).json.items).toEqual([]);
    expect((await get(findInvitations, '/api/invitations?externalId=HR-1')).json.items.map((r: { email: string }) => r.email)).toEqual([
      'p1@fabrikam.com',
    ]);
  });

  it('answers 400 problem without exactly one search key', async () => {
    expect((await get(findInvitations, '/api/invitations')).status).toBe(400);
    expect((await get(findInvitations, '/api/invitations?email=a@b.com&externalId=x')).status).toBe(400);
  });
});

describe('GET /api/batches/{batchId}', () => {
  it('counts every person of the batch by status', async () => {
    const response = await get(getBatch, `/api/batches/${batchId}`, { batchId });
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      batchId,
      total: 25,
      counts: { Queued: 23, Processing: 0, Invited: 1, Failed: 1, DeadLettered: 0 },
    });
  });

  it("pages just the people in a status with ?status=, with the whole batch's counts", async () => {
    const response = await get(getBatch, `/api/batches/${batchId}?status=Failed`, { batchId });
    expect(response.status).toBe(200);
    expect(response.json.total).toBe(1);
    expect(response.json.items.map((item: { status: string }) => item.status)).toEqual(['Failed']);
    expect(response.json.counts.Queued).toBe(23);
    const queued = await get(getBatch, `/api/batches/${batchId}?status=Queued&pageSize=20`, { batchId });
    expect(queued.json.items).toHaveLength(20);
    expect(queued.json.items.every((item: { status: string }) => item.status === 'Queued')).toBe(true);
    expect(queued.json.continuationToken).toBeDefined();
  });

  it('refuses a status that is not one with a problem naming it', async () => {
    const response = await get(getBatch, `/api/batches/${batchId}?status=Lost`, { batchId });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.json.detail).toMatch(/^status /);
  });

  it('pages through the items with a continuation token, each person once, without redemption URLs', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query = `pageSize=10${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const response = await get(getBatch, `/api/batches/${batchId}?${query}`, { batchId });
      expect(response.status).toBe(200);
      expect(response.json.items.length).toBeLessThanOrEqual(10);
      expect(response.text).not.toContain('ticket');
      seen.push(...response.json.items.map((item: { id: string }) => item.id));
      token = response.json.continuationToken;
      pages += 1;
    } while (token);
    expect(pages).toBe(3);
    expect(new Set(seen)).toEqual(new Set(ids));
  });

  it('lists a person named by two submissions into one batch once, on one page, at the place the batch first named them', async () => {
    const first = await submit(deps, {
      batchId: 'two-submissions',
      invitations: ['a', 'b', 'c'].map((name) => invitationFor(`${name}@two.fabrikam.com`)),
    });
    const second = await submit(deps, {
      batchId: 'two-submissions',
      invitations: ['c', 'a', 'd'].map((name) => invitationFor(`${name}@two.fabrikam.com`)),
    });
    expect([first.status, second.status]).toEqual([202, 202]);
    await clearQueue(deps);
    const listed: { email: string; index: number; duplicate: boolean }[] = [];
    let token: string | undefined;
    let total: number | undefined;
    do {
      const query = `pageSize=1${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
      const response = await get(getBatch, `/api/batches/two-submissions?${query}`, { batchId: 'two-submissions' });
      expect(response.status).toBe(200);
      listed.push(...response.json.items);
      total = response.json.total;
      token = response.json.continuationToken;
    } while (token);
    expect(total).toBe(4);
    const placed = Object.fromEntries(listed.map((item) => [item.email.split('@')[0], [item.index, item.duplicate]]));
    expect(listed).toHaveLength(4);
    expect(placed).toEqual({ a: [0, false], b: [1, false], c: [2, false], d: [2, false] });
    // The results file is in submission order.
    const csv = await get(getBatch, '/api/batches/two-submissions?format=csv', { batchId: 'two-submissions' });
    const rows: Record<string, string>[] = parse(csv.text, { columns: true });
    expect(rows.map((row) => [row.row, row.email!.split('@')[0]])).toEqual([
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'c'],
      ['3', 'd'],
    ]);
  });

  it('refuses a continuation token it did not hand out', async () => {
    for (const token of [
      'garbage',
      Buffer.from('{"offset":-1}').toString('base64url'),
      Buffer.from('{"after":""}').toString('base64url'),
    ]) {
      const response = await get(getBatch, `/api/batches/${batchId}?continuationToken=${token}`, { batchId });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  it('exports the results CSV, one row per person in submission order, without redemption URLs', async () => {
    for (const request of [
      get(getBatch, `/api/batches/${batchId}?format=csv`, { batchId }),
      get(getBatch, `/api/batches/${batchId}`, { batchId }, { accept: 'text/csv' }),
    ]) {
      const response = await request;
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(response.text).not.toContain('ticket');
      const rows: Record<string, string>[] = parse(response.text, { columns: true });
      expect(Object.keys(rows[0]!)).toEqual([...RESULTS_CSV_COLUMNS]);
      expect(rows).toHaveLength(25);
      expect(rows.map((row) => row.email)).toEqual(Array.from({ length: 25 }, (_, i) => `p${i}@fabrikam.com`));
      expect(rows[0]).toMatchObject({ status: 'Invited', invitedUserId: 'guest-0' });
      expect(rows[1]).toMatchObject({
        status: 'Failed',
        errorCode: 'BadRequest',
        errorMessage: 'Unable to find target address',
        httpStatus: '400',
      });
    }
  });

  it('writes cells a spreadsheet would run as formulas as text (CSV injection)', async () => {
    const formulas = ['=HYPERLINK("https://evil.example","click")', '+1+1', '-2+3', '@SUM(A1)'];
    const response = await submit(deps, {
      batchId: 'formulas',
      invitations: formulas.map((externalId, i) => invitationFor(`formula${i}@fabrikam.com`, { externalId: `${externalId}` })),
    });
    expect(response.status).toBe(202);
    const csv = await get(getBatch, '/api/batches/formulas?format=csv', { batchId: 'formulas' });
    const rows: Record<string, string>[] = parse(csv.text, { columns: true });
    expect(rows.map((row) => row.externalId)).toEqual(formulas.map((formula) => `'${formula}`));
    await clearQueue(deps);
  });

  it('answers 404 problem for an unknown batch and 400 for a bad page size', async () => {
    expect((await get(getBatch, '/api/batches/nope', { batchId: 'nope' })).status).toBe(404);
    expect((await get(getBatch, '/api/batches/nope?format=csv', { batchId: 'nope' })).status).toBe(404);
    const bad = await get(getBatch, `/api/batches/${batchId}?pageSize=0`, { batchId });
    expect(bad.status).toBe(400);
    expect(bad.json.detail).toContain('pageSize');
  });
});
