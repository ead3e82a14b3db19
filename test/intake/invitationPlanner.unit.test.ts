import { describe, expect, it } from 'vitest';
import { recordIdForEmail, type InvitationRecord } from '../../shared/core';
import { InvitationPlanner, validateItems } from '../../shared/intake';
import { OPEN_POLICY } from '../support/invitationPolicies';
import type { StoredRecord } from '../../shared/storage';

/** The planner's own rules, with the app's records given and no directory to ask (intake/invitationPlanner.ts). */
const policy = { ...OPEN_POLICY, allowProfile: true };
const options = { policy, inviteDelivery: 'graph' as const, queuedStaleAfterMs: 600_000, writesPerSecond: 10, mailPerMinute: 30 };
const item = (email: string, extra: Record<string, unknown> = {}) => ({
  invitedUserEmailAddress: email,
  inviteRedirectUrl: 'https://myapps.microsoft.com',
  ...extra,
});
const submissionOf = (...values: unknown[]) => validateItems(values.map((value, index) => ({ index, pathPrefix: '', value })));

function storeWith(
  status: InvitationRecord['status'],
  email: string,
  profile?: Record<string, string>,
  record: Partial<InvitationRecord> = {},
) {
  const stored = {
    record: { id: recordIdForEmail(email), email, status, queuedAt: new Date().toISOString(), ...record },
    invitation: { ...item(email), ...(profile ? { profile } : {}) },
  } as unknown as StoredRecord;
  return {
    getById: async (id: string) => (id === stored.record.id ? stored : undefined),
    // The person keyed by the externalId, for a candidate whose address is not theirs (as the store decides it).
    emailChangesFor: async (candidates: readonly { email: string; invitation: { externalId?: string } }[]) =>
      new Map(
        [...candidates.entries()].flatMap(([position, candidate]) =>
          record.externalId && candidate.invitation.externalId === record.externalId && candidate.email !== email
            ? [[position, stored] as const]
            : [],
        ),
      ),
  };
}

describe('the planner', () => {
  it('plans a mover’s new address (the same externalId) as a reset of the same guest, not a new invitation', async () => {
    const store = storeWith('Accepted', 'old@f.com', undefined, { externalId: 'HR-1', ownedUserId: 'guest-1' });
    const plan = await new InvitationPlanner(store, undefined, undefined, options).plan(
      submissionOf(item('new@f.com', { externalId: 'HR-1' })),
    );
    expect(plan.entries[0]).toMatchObject({
      outcome: 'AlreadyInPipeline',
      emailChangedFrom: 'old@f.com',
      callsGraph: true,
      record: { id: recordIdForEmail('old@f.com'), status: 'Accepted' },
      realRun: expect.stringContaining('resets the redemption of the same guest'),
    });
    expect(plan.summary.counts.Invite).toBe(0);
  });

  it('plans a leaver who comes back: enabled again if disabled, never invited again', async () => {
    const store = storeWith('Left', 'back@f.com', undefined, { statusBeforeLeaving: 'Accepted', leaverAction: 'disabled' });
    const plan = await new InvitationPlanner(store, undefined, undefined, options).plan(
      submissionOf(item('back@f.com', { sendInvitationMessage: true })),
    );
    expect(plan.entries[0]).toMatchObject({
      outcome: 'AlreadyInPipeline',
      returned: true,
      callsGraph: true,
      realRun: expect.stringContaining('enables their guest again'),
    });
    expect(plan.summary).toMatchObject({ graphWrites: 1, emails: 0 });
  });

  it('plans a mover: only the changed profile is written, one write and no email', async () => {
    const planner = new InvitationPlanner(storeWith('Accepted', 'mo@f.com', { department: 'Procurement' }), undefined, undefined, options);
    const plan = await planner.plan(submissionOf(item('mo@f.com', { sendInvitationMessage: true, profile: { department: 'Sales' } })));
    expect(plan.entries[0]).toMatchObject({
      outcome: 'AlreadyInPipeline',
      profileChanged: true,
      callsGraph: true,
      record: { status: 'Accepted' },
    });
    expect(plan.summary).toMatchObject({ graphWrites: 1, emails: 0 });
  });

  it('counts a new guest’s invitation, group adds and profile as writes, and says the directory was not checked without a reader', async () => {
    const planner = new InvitationPlanner(storeWith('Invited', 'other@f.com'), undefined, undefined, options);
    const plan = await planner.plan(submissionOf(item('new@f.com', { sendInvitationMessage: true, profile: { jobTitle: 'Buyer' } })));
    expect(plan.entries[0]).toMatchObject({ outcome: 'Invite', directoryNotChecked: expect.stringContaining('reads no directory') });
    expect(plan.summary).toMatchObject({ graphWrites: 2, emails: 1, graphReads: 0 });
    expect(plan.tenant.guestInvites.status).toBe('notChecked');
  });

  it('answers a person still in flight, or failed, as the real run would: a duplicate, or queued again', async () => {
    const queued = await new InvitationPlanner(storeWith('Queued', 'q@f.com'), undefined, undefined, options).plan(
      submissionOf(item('q@f.com')),
    );
    expect(queued.entries[0]).toMatchObject({
      outcome: 'AlreadyInPipeline',
      callsGraph: false,
      realRun: expect.stringContaining('duplicate'),
    });
    const failed = await new InvitationPlanner(storeWith('Failed', 'f@f.com'), undefined, undefined, options).plan(
      submissionOf(item('f@f.com')),
    );
    expect(failed.entries[0]).toMatchObject({
      outcome: 'AlreadyInPipeline',
      callsGraph: true,
      realRun: expect.stringContaining('queues the person again'),
    });
  });
});
