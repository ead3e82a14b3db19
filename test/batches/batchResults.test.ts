import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { mapWithConcurrency } from '../../shared/core/concurrency';
import { NotFound } from '../../shared/core';
import { clearQueue, createTestDependencies, invitationFor, submit, writeRecord } from '../support/harness';

/** finalResultsCsv: what partner onboarding asks on every run for every roster still in progress. */

let deps: AppDependencies;
let ids: string[];
const PEOPLE = 300;

beforeAll(async () => {
  deps = await createTestDependencies();
  const response = await submit(deps, {
    batchId: 'finality',
    invitations: Array.from({ length: PEOPLE }, (_, i) => invitationFor(`f${i}@fabrikam.com`)),
  });
  ids = response.json.items.map((item: { id: string }) => item.id);
  await clearQueue(deps);
});

const setStatus = (id: string, status: 'Invited' | 'DeadLettered') => writeRecord(deps, id, { status });

describe('the results of a batch once it is final', () => {
  it('answers "not yet" from the batch\'s counts, reading no record, while it is being worked on', async () => {
    const reads = vi.spyOn(deps.store, 'getById');
    expect(await deps.batchReports.finalResultsCsv('finality')).toBeUndefined();
    expect(reads).not.toHaveBeenCalled();
    reads.mockRestore();
  });

  it('still answers "not yet" when only the first person is waiting', async () => {
    await mapWithConcurrency(ids.slice(1), 16, (id) => setStatus(id, 'Invited'));
    expect(await deps.batchReports.finalResultsCsv('finality')).toBeUndefined();
  });

  it("gives every person's row, in submission order, once everyone is final", async () => {
    await setStatus(ids[0]!, 'DeadLettered');
    const csv = await deps.batchReports.finalResultsCsv('finality');
    expect(csv).toBe(await deps.batchReports.resultsCsv('finality'));
    const rows = parse(csv!, { columns: true }) as Array<{ email: string; status: string }>;
    expect(rows.map((row) => row.email)).toEqual(ids.map((_, i) => `f${i}@fabrikam.com`));
    expect(rows[0]!.status).toBe('DeadLettered');
    expect(rows.slice(1).every((row) => row.status === 'Invited')).toBe(true);
  });
});

describe('every row of a submission accounted for', () => {
  it('lists a rejected row in the batch report and its results CSV, with status Rejected, its reasons and what it held, and records nothing for it', async () => {
    const response = await submit(deps, {
      batchId: 'accounted',
      invitations: [
        invitationFor('first@fabrikam.com'),
        { invitedUserEmailAddress: 'not an address', invitedUserDisplayName: 'Nobody', inviteRedirectUrl: 'https://myapps.microsoft.com' },
        invitationFor('third@fabrikam.com'),
      ],
    });
    expect(response.status).toBe(202);
    await clearQueue(deps);

    const report = await deps.batchReports.report('accounted');
    expect(report.total).toBe(2);
    expect(report.rejected).toEqual([
      {
        index: 1,
        errors: [expect.objectContaining({ path: 'invitations[1].invitedUserEmailAddress' })],
        submitted: { email: 'not an address', displayName: 'Nobody' },
      },
    ]);

    const rows = parse(await deps.batchReports.resultsCsv('accounted'), { columns: true }) as Array<Record<string, string>>;
    expect(rows.map((row) => [row.row, row.status])).toEqual([
      ['1', 'Queued'],
      ['3', 'Queued'],
      ['2', 'Rejected'],
    ]);
    expect(rows[2]!.errorMessage).toContain('invitations[1].invitedUserEmailAddress');
    // What the row held, so that it can be fixed from the results file alone.
    expect(rows[2]).toMatchObject({ email: 'not an address', displayName: 'Nobody' });
    // Never a person: no record for it, and nothing queued (the queue was cleared of the two people only).
    expect(await deps.store.findByEmail('not an address')).toEqual([]);
  });

  it('writes nothing for a submission whose every row is rejected (400)', async () => {
    const response = await submit(deps, {
      batchId: 'all-rejected',
      invitations: [{ invitedUserEmailAddress: 'nope', inviteRedirectUrl: 'https://myapps.microsoft.com' }],
    });
    expect(response.status).toBe(400);
    await expect(deps.batchReports.report('all-rejected')).rejects.toBeInstanceOf(NotFound);
  });
});
