import { describe, expect, it } from 'vitest';
import { isOwnGuest, type OwnershipEvidence } from '../../shared/lifecycle/guestOwnership';

/** The only user the app disables, deletes or resets: the guest its own invitation created (lifecycle/guestOwnership.ts). */
describe('whose guest it is', () => {
  const queuedAt = '2026-12-01T10:00:00.000Z';
  const record: OwnershipEvidence = { queuedAt, invitedUserId: 'u-1' };
  const guest = { id: 'u-1', userType: 'Guest', creationType: 'Invitation', createdDateTime: '2026-12-01T10:00:05Z' };

  it.each([
    ['the guest our invitation created, after the attempt was queued', guest, record, true],
    ['a guest created a minute before the attempt (clock skew)', { ...guest, createdDateTime: '2026-12-01T09:59:00Z' }, record, true],
    ['a guest an admin invited an hour before', { ...guest, createdDateTime: '2026-12-01T09:00:00Z' }, record, false],
    ['a member with the address', { ...guest, userType: 'Member' }, record, false],
    ['a guest created another way (self-service sign-up)', { ...guest, creationType: 'EmailVerified' }, record, false],
    ['a user other than the one Graph answered with', { ...guest, id: 'u-2' }, record, false],
    ['a guest without a creation time', { ...guest, createdDateTime: null }, record, false],
    [
      'the guest established as ours before, however old',
      { ...guest, createdDateTime: '2020-01-01T00:00:00Z' },
      { ...record, ownedUserId: 'u-1' },
      true,
    ],
    ['a later attempt: judged by its own queuing', guest, { ...record, attemptQueuedAt: '2026-12-01T11:00:00.000Z' }, false],
  ])('%s: %s', (_, user, evidence, owned) => {
    expect(isOwnGuest(user, evidence)).toBe(owned);
  });
});
