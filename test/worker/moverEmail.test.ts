import { afterEach, describe, expect, it } from 'vitest';
import { GROUP_MEMBER_READ_WRITE_ALL, USER_INVITE_ALL, USER_READ_ALL, USER_READ_WRITE_ALL } from '../../local/graphEmulator/graphEmulator';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startPipeline, waitForStatus } from '../support/pipeline';

/**
 * A mover's new email (the same externalId, storage/invitationStore.ts changeEmail): the same
 * person and the same guest, whose redemption is reset at the new address (`resetRedemption: true`,
 * `invitedUser.id` = the guest this app created). The guest keeps its id, its groups and its access;
 * the record keeps its id, takes the new address, and both addresses find it.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

describe("a mover's new email", () => {
  it('resets the redemption of the same guest at the new address: same guest id, same groups, same record, no second person', async () => {
    const group = crypto.randomUUID();
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, USER_READ_ALL, USER_READ_WRITE_ALL, GROUP_MEMBER_READ_WRITE_ALL] },
      { INVITE_ALLOWED_GROUPS: group },
    );
    const directory = tenant.emulator.directory;
    directory.groups.set(group, new Set());
    const id = recordIdForEmail('ann.old@fabrikam.com');
    await submit(deps, invitationFor('ann.old@fabrikam.com', { externalId: 'HR-42', groups: [group], sendInvitationMessage: true }));
    await waitFor(async () => (await deps.store.getById(id))?.record.groups?.[0]?.status === 'Added', { what: 'the joiner’s group' });
    const guest = directory.findByEmail('ann.old@fabrikam.com')!;
    directory.redeem('ann.old@fabrikam.com');
    await deps.redemptionTracker.run();
    expect((await deps.store.getById(id))!.record).toMatchObject({ status: 'Accepted', ownedUserId: guest.id });

    const changed = await submit(deps, invitationFor('ann.new@northwind.example', { externalId: 'HR-42', sendInvitationMessage: true }));
    expect(changed.status).toBe(202);
    expect(changed.json.items[0]).toMatchObject({ id, email: 'ann.new@northwind.example', status: 'Queued', emailChanged: true });
    await waitForStatus(deps, id, 'Invited');

    const { record } = (await deps.store.getById(id))!;
    expect(record).toMatchObject({
      id,
      email: 'ann.new@northwind.example',
      previousEmail: 'ann.old@fabrikam.com',
      invitedUserId: guest.id,
      ownedUserId: guest.id,
      externalUserState: 'PendingAcceptance',
      redemptionResetAt: expect.any(String),
    });
    // Graph was asked to reset the guest's redemption at the new address, once; the guest is the same object, still in its group.
    const reset = tenant.emulator.calls.filter((call) => call.resetRedemptionOf !== undefined);
    expect(reset.map((call) => [call.email, call.resetRedemptionOf, call.status])).toEqual([['ann.new@northwind.example', guest.id, 201]]);
    expect(directory.findByEmail('ann.new@northwind.example')!.id).toBe(guest.id);
    expect(directory.groups.get(group)!.has(guest.id)).toBe(true);
    expect([...directory.users.values()].filter((user) => user.userType === 'Guest')).toHaveLength(1);

    // Both addresses, and the externalId, find the one record; the new address submitted again is that person.
    for (const email of ['ann.old@fabrikam.com', 'ann.new@northwind.example'])
      expect((await deps.store.findByEmail(email)).map((r) => r.id)).toEqual([id]);
    expect((await deps.store.findByExternalId('HR-42')).map((r) => r.id)).toEqual([id]);
    const again = await submit(deps, invitationFor('ann.new@northwind.example'));
    expect(again.json.items[0]).toMatchObject({ id, duplicate: true });
    expect(tenant.emulator.calls.filter((call) => call.email === 'ann.new@northwind.example')).toHaveLength(1);
  });

  it('never resets a user this app did not create: the person fails with the reason, and the user keeps its address', async () => {
    const { deps, tenant } = await startPipeline(cleanup, { roles: [USER_INVITE_ALL, USER_READ_ALL, USER_READ_WRITE_ALL] });
    const earlier = tenant.emulator.directory.add({ mail: 'bo.before@fabrikam.com', userType: 'Guest' });
    const id = recordIdForEmail('bo.before@fabrikam.com');
    await submit(deps, invitationFor('bo.before@fabrikam.com', { externalId: 'HR-43' }));
    await waitForStatus(deps, id, 'Invited');
    await submit(deps, invitationFor('bo.takeover@northwind.example', { externalId: 'HR-43' }));
    await waitForStatus(deps, id, 'Failed');
    expect((await deps.store.getById(id))!.record.error).toMatchObject({ code: 'NotOwnGuest' });
    expect(tenant.emulator.calls.filter((call) => call.resetRedemptionOf !== undefined)).toEqual([]);
    expect(earlier.mail).toBe('bo.before@fabrikam.com');
  });

  it('makes a new person of a new address whose externalId names nobody invited yet', async () => {
    const deps = await createTestDependencies(); // no worker: the first stays Queued
    await submit(deps, invitationFor('first@fabrikam.com', { externalId: 'HR-44' }));
    const second = await submit(deps, invitationFor('second@fabrikam.com', { externalId: 'HR-44' }));
    expect(second.json.items[0]).toMatchObject({ id: recordIdForEmail('second@fabrikam.com') });
    expect(second.json.items[0].emailChanged).toBeUndefined();
  });
});
