import { describe, expect, it } from 'vitest';
import { combinePlans, type InvitationPlan, type PlanEntry } from '../../shared/intake';

/** A file's plan from the plans of its parts (shared/intake/planParts.ts): the CLI's requests, a roster's chunks. */
describe('combining the plans of a file’s parts', () => {
  const entry = (row: number, email: string, outcome: PlanEntry['outcome'], extra: Partial<PlanEntry> = {}): PlanEntry => ({
    row,
    email,
    outcome,
    realRun: outcome,
    callsGraph: outcome === 'Invite',
    ...extra,
  });
  const part = (entries: PlanEntry[], quota = { used: 100, total: 102 }): InvitationPlan => ({
    dryRun: true,
    entries,
    summary: {
      rows: entries.length,
      counts: { Invite: 0, AlreadyGuest: 0, AlreadyMember: 0, AlreadyInPipeline: 0, Duplicate: 0, Rejected: 0 },
      graphWrites: entries.filter((e) => e.callsGraph).length,
      emails: 0,
      minutes: 0.1,
      graphReads: entries.length,
    },
    tenant: {
      guestInvites: { status: 'allowed', allowInvitesFrom: 'everyone', detail: 'allowed' },
      directoryQuota: { status: 'fits', ...quota, toAdd: 1, detail: 'fits' },
    },
  });

  it('numbers rows in the file, makes a person of an earlier part a duplicate, and keeps a rejected row’s line', () => {
    const plan = combinePlans(
      [
        {
          start: 0,
          plan: part([entry(1, 'a@f.com', 'Invite'), entry(2, 'b@f.com', 'Invite'), entry(3, 'a@f.com', 'Duplicate', { duplicateOf: 1 })]),
        },
        {
          start: 3,
          plan: part([
            entry(1, 'b@f.com', 'Invite'),
            entry(2, 'x', 'Rejected', { submitted: { email: 'x' } }),
            entry(3, 'c@f.com', 'Invite'),
          ]),
        },
      ],
      (row) => (row === 5 ? 'x,https://myapps.microsoft.com' : undefined),
    );
    expect(plan.entries.map(({ row, email, outcome, duplicateOf }) => [row, email, outcome, duplicateOf])).toEqual([
      [1, 'a@f.com', 'Invite', undefined],
      [2, 'b@f.com', 'Invite', undefined],
      [3, 'a@f.com', 'Duplicate', 1],
      [4, 'b@f.com', 'Duplicate', 2], // in the second request, but the file's row 2 had them first
      [5, 'x', 'Rejected', undefined],
      [6, 'c@f.com', 'Invite', undefined],
    ]);
    expect(plan.entries[4]!.submitted).toEqual({ email: 'x', raw: 'x,https://myapps.microsoft.com' });
    expect(plan.summary).toMatchObject({ rows: 6, counts: { Invite: 3, Duplicate: 2, Rejected: 1 }, graphWrites: 3, graphReads: 6 });
    // Three new guests against room for two: the quota is judged for the whole file, not per part.
    expect(plan.tenant.directoryQuota).toMatchObject({ status: 'exceeds', toAdd: 3 });
  });
});
