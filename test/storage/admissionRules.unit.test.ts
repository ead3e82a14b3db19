import { describe, expect, it } from 'vitest';
import { INVITATION_STATUSES, invitationSchema, type InvitationStatus } from '../../shared/core';
import { keptFromEarlierSubmissions, moveOf, movedGroups, returnOf, shouldQueueAgain } from '../../shared/storage/admissionRules';

/** A person submitted again (shared/storage/admissionRules.ts): queued again or a duplicate, and what the new submission may change. */
describe('a person submitted again', () => {
  const now = new Date('2026-12-02T12:00:00Z');
  const STALE_MS = 15 * 60_000;
  const invitation = (extra: Record<string, unknown> = {}) =>
    invitationSchema.parse({ invitedUserEmailAddress: 'ada@fabrikam.com', inviteRedirectUrl: 'https://myapps.microsoft.com', ...extra });
  const known = (status: InvitationStatus, queuedAt = now.toISOString(), extra: Record<string, unknown> = {}) => ({
    record: { status, queuedAt },
    invitation: invitation(extra),
  });

  const expected: Record<InvitationStatus, { plain: boolean; resend: boolean }> = {
    Queued: { plain: false, resend: false }, // in flight: invited anyway
    Processing: { plain: false, resend: false },
    Invited: { plain: false, resend: true }, // a duplicate, unless a resend is asked for on purpose
    Accepted: { plain: false, resend: true },
    Expired: { plain: true, resend: true }, // a new attempt
    Removed: { plain: true, resend: true },
    Left: { plain: true, resend: true }, // a leaver who never had a guest (or whose guest is gone): invited again
    Failed: { plain: true, resend: true },
    DeadLettered: { plain: true, resend: true },
  };

  it.each(INVITATION_STATUSES)('%s: queued again as the rules say', (status) => {
    expect(shouldQueueAgain(known(status), invitation(), now, STALE_MS)).toBe(expected[status].plain);
    expect(shouldQueueAgain(known(status), invitation({ resend: true }), now, STALE_MS)).toBe(expected[status].resend);
  });

  it('brings back a leaver whose guest is still there, enabled again only if it was disabled; invites again one whose guest is gone', () => {
    const leaver = (extra: Record<string, unknown>) => ({
      ...known('Left'),
      record: { status: 'Left' as const, queuedAt: now.toISOString(), ...extra },
    });
    const disabled = leaver({ statusBeforeLeaving: 'Accepted', leaverAction: 'disabled' });
    expect(returnOf(disabled)).toEqual({ status: 'Accepted', reenable: true });
    expect(shouldQueueAgain(disabled, invitation(), now, STALE_MS)).toBe(false);
    expect(shouldQueueAgain(disabled, invitation({ resend: true }), now, STALE_MS)).toBe(false);
    // Still in its grace, or only reported: nothing was switched off.
    expect(returnOf(leaver({ statusBeforeLeaving: 'Invited' }))).toEqual({ status: 'Invited', reenable: false });
    expect(returnOf(leaver({ statusBeforeLeaving: 'Invited', leaverAction: 'reported' }))).toEqual({ status: 'Invited', reenable: false });
    for (const gone of [
      leaver({ statusBeforeLeaving: 'Invited', leaverAction: 'deleted' }),
      leaver({ statusBeforeLeaving: 'Accepted', removedAt: now.toISOString() }),
      leaver({ statusBeforeLeaving: 'Failed' }),
      leaver({ statusBeforeLeaving: 'Queued' }),
    ]) {
      expect(returnOf(gone)).toBeUndefined();
      expect(shouldQueueAgain(gone, invitation(), now, STALE_MS)).toBe(true);
    }
    expect(returnOf(known('Accepted'))).toBeUndefined();
  });

  it('queues again a person left Queued past the stale time (the intake failed between the record and the message)', () => {
    const justQueued = new Date(now.getTime() - STALE_MS).toISOString();
    const longAgo = new Date(now.getTime() - STALE_MS - 1).toISOString();
    expect(shouldQueueAgain(known('Queued', justQueued), invitation(), now, STALE_MS)).toBe(false);
    expect(shouldQueueAgain(known('Queued', longAgo), invitation(), now, STALE_MS)).toBe(true);
    expect(shouldQueueAgain(known('Processing', longAgo), invitation(), now, STALE_MS)).toBe(false);
  });

  it('keeps the creating submission’s callbackUrl, whoever submits later', () => {
    const first = known('Failed', undefined, { callbackUrl: 'https://hr.contoso.com/events' });
    const later = keptFromEarlierSubmissions(
      first,
      invitation({ callbackUrl: 'https://attacker.example/events', invitedUserDisplayName: 'Ada' }),
    );
    expect(later).toMatchObject({ callbackUrl: 'https://hr.contoso.com/events', invitedUserDisplayName: 'Ada' });
    const none = keptFromEarlierSubmissions(known('Failed'), invitation({ callbackUrl: 'https://attacker.example/events' }));
    expect(none.callbackUrl).toBeUndefined();
  });

  it('keeps the cc, the groups and the message once a guest exists; before that, the new ones count', () => {
    const message = { customizedMessageBody: 'Welcome.', ccRecipients: [{ emailAddress: { address: 'cc@fabrikam.com' } }] };
    const firstGroups = ['6b4a1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d'];
    const otherGroups = ['00000000-0000-4000-8000-000000000001'];
    const resubmitted = invitation({ groups: otherGroups, invitedUserMessageInfo: { customizedMessageBody: 'Other.' }, resend: true });
    const invited = keptFromEarlierSubmissions(
      known('Invited', undefined, { groups: firstGroups, invitedUserMessageInfo: message }),
      resubmitted,
    );
    expect(invited).toMatchObject({ groups: firstGroups, invitedUserMessageInfo: message, resend: true });
    const failed = keptFromEarlierSubmissions(
      known('Failed', undefined, { groups: firstGroups, invitedUserMessageInfo: message }),
      resubmitted,
    );
    expect(failed).toMatchObject({ groups: otherGroups, invitedUserMessageInfo: { customizedMessageBody: 'Other.' } });
  });
});

describe('a mover (the same person, changed)', () => {
  const [g1, g2, g3, g4] = Array.from({ length: 4 }, () => crypto.randomUUID()) as [string, string, string, string];
  const invitation = (extra: Record<string, unknown> = {}) =>
    invitationSchema.parse({ invitedUserEmailAddress: 'mo@fabrikam.com', inviteRedirectUrl: 'https://myapps.microsoft.com', ...extra });
  const known = (status: InvitationStatus, extra: Record<string, unknown> = {}) => ({
    record: { status, queuedAt: '' },
    invitation: invitation(extra),
  });

  it('moves only a live person, only when the profile or the named groups changed', () => {
    const joiner = { profile: { department: 'Procurement' }, groups: [g1] };
    expect(moveOf(known('Invited', joiner), invitation(joiner))).toBeUndefined();
    expect(moveOf(known('Invited', joiner), invitation({ profile: { department: 'Sales' } }))).toEqual({
      profile: { department: 'Sales' },
    });
    expect(moveOf(known('Accepted', joiner), invitation({ groups: [g2] }))).toEqual({ groups: [g2] });
    // Naming no groups leaves them; the same groups in another order or case is no change.
    expect(moveOf(known('Invited', joiner), invitation({}))).toBeUndefined();
    expect(moveOf(known('Invited', { groups: [g1, g2] }), invitation({ groups: [g2.toUpperCase(), g1] }))).toBeUndefined();
    for (const status of ['Queued', 'Failed', 'Expired', 'Removed'] as const)
      expect(moveOf(known(status, joiner), invitation({ profile: { department: 'Sales' } }))).toBeUndefined();
  });

  it('adds the groups now named, and removes only those this app added', () => {
    const before = [
      { id: g1, status: 'Added' as const },
      { id: g2, status: 'AlreadyMember' as const }, // a membership the app did not make
      { id: g3, status: 'Failed' as const, error: 'no such group' },
      { id: g4, status: 'Added' as const },
    ];
    expect(movedGroups(before, [g4, g3])).toEqual([
      { id: g4, status: 'Added' }, // kept as it is
      { id: g3, status: 'Pending' }, // failed before: tried again
      { id: g1, status: 'Removing' }, // added by the app, no longer named
    ]);
  });
});
