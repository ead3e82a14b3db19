import { describe, expect, it } from 'vitest';
import { claimedInvitation } from '../../shared/worker/claimedInvitation';
import type { Claim } from '../../shared/worker/invitationClaims';

/** Why a claimed person is sent (worker/claimedInvitation.ts): each purpose decides the request, the lookup and what is recorded. */
describe('a claimed invitation', () => {
  const claimOf = (entity: Record<string, unknown>, record: Record<string, unknown> = {}, sendInvitationMessage = false) =>
    ({
      stored: {
        record: { id: 'a1b2', email: 'ann@fabrikam.com', ...record },
        entity,
        invitation: {
          invitedUserEmailAddress: 'ann@fabrikam.com',
          inviteRedirectUrl: 'https://myapps.microsoft.com',
          sendInvitationMessage,
        },
      },
    }) as unknown as Claim;
  const message = { id: 'a1b2', batchId: 'b1', queuedAt: '2026-12-01T10:00:00.000Z' };

  it.each([
    ['a first invitation', {}, {}, 'invitation'],
    ['a reminder', { reminderDue: true }, {}, 'reminder'],
    ['a reset of the guest this app created', { resetRedemptionDue: true }, { ownedUserId: 'u-1' }, 'reset'],
    [
      'a reset due at the same time as a reminder (the reset is the reminder too)',
      { resetRedemptionDue: true, reminderDue: true },
      { ownedUserId: 'u-1' },
      'reset',
    ],
    ['a reset asked for a guest not known to be ours: a first invitation', { resetRedemptionDue: true }, {}, 'invitation'],
  ])('%s is sent as %s', (_, entity, record, purpose) => {
    expect(claimedInvitation(message, claimOf(entity, record), 0).purpose).toBe(purpose);
  });

  it('wants an email for a reminder, or when the invitation asks for one', () => {
    expect(claimedInvitation(message, claimOf({}), 0).emailWanted).toBe(false);
    expect(claimedInvitation(message, claimOf({}, {}, true), 0).emailWanted).toBe(true);
    expect(claimedInvitation(message, claimOf({ reminderDue: true }), 0).emailWanted).toBe(true);
  });

  it('names the person in logs by id and a masked email', () => {
    const { who } = claimedInvitation(message, claimOf({}), 0);
    expect(who).toMatch(/^a1b2 \(/);
    expect(who).not.toContain('ann@fabrikam.com');
  });
});
