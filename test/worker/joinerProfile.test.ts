import { afterEach, describe, expect, it } from 'vitest';
import { GROUP_MEMBER_READ_WRITE_ALL, USER_INVITE_ALL, USER_READ_WRITE_ALL } from '../../local/graphEmulator/graphEmulator';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startPipeline } from '../support/pipeline';

/**
 * Joiners arrive with their HR profile (worker/invitationFollowUp.ts): Graph's POST /invitations
 * leaves the invited user's profile alone, so after the 201 the worker sets it with
 * PATCH /users/{id}, in the write budget, and records profileStatus like the email and the groups.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const PROFILE = {
  givenName: 'Ann',
  surname: 'Lee',
  companyName: 'Fabrikam',
  department: 'Procurement',
  jobTitle: 'Buyer',
  employeeId: 'P-2001',
  usageLocation: 'gb',
};

describe("a joiner's profile", () => {
  it('is set on the guest after the 201, through the replication lag, and never sent to POST /invitations', async () => {
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, USER_READ_WRITE_ALL] },
      { INVITE_ALLOW_PROFILE: 'true' },
    );
    tenant.emulator.directory.replicationLagMs = 1_500; // the new guest is unknown to PATCH for a moment
    expect((await submit(deps, invitationFor('ann.lee@fabrikam.com', { profile: PROFILE }))).status).toBe(202);
    const id = recordIdForEmail('ann.lee@fabrikam.com');
    await waitFor(async () => (await deps.store.getById(id))?.record.profileStatus === 'Set', {
      timeoutMs: 20_000,
      what: 'the profile set',
    });
    const guest = tenant.emulator.directory.findByEmail('ann.lee@fabrikam.com')!;
    expect(guest).toMatchObject({ ...PROFILE, usageLocation: 'GB' });
    // Graph's invitation call carried no profile (the emulator, as Graph, answers 400 to a property an invitation lacks).
    expect(tenant.emulator.callsFor('ann.lee@fabrikam.com').map((call) => call.status)).toEqual([201]);
  });

  it('leaves alone the profile of a user this app did not create: a member, or a guest someone invited before', async () => {
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, USER_READ_WRITE_ALL] },
      { INVITE_ALLOW_PROFILE: 'true' },
    );
    const member = tenant.emulator.directory.add({ mail: 'colleague@fabrikam.com', userType: 'Member', department: 'Legal' });
    const earlier = tenant.emulator.directory.add({ mail: 'earlier@fabrikam.com', userType: 'Guest', department: 'Legal' });
    await submit(deps, {
      invitations: [
        invitationFor('colleague@fabrikam.com', { profile: { department: 'Sales' } }),
        invitationFor('earlier@fabrikam.com', { profile: { department: 'Sales' } }),
      ],
    });
    for (const email of ['colleague@fabrikam.com', 'earlier@fabrikam.com']) {
      const id = recordIdForEmail(email);
      await waitFor(async () => (await deps.store.getById(id))?.record.profileStatus === 'Failed', { what: `${email}'s profile refused` });
      expect((await deps.store.getById(id))!.record.profileError).toContain('did not create');
    }
    expect([member.department, earlier.department]).toEqual(['Legal', 'Legal']);
  });

  it('fails the profile alone, saying which permission is missing, when the app may not write users', async () => {
    const { deps } = await startPipeline(cleanup, { roles: [USER_INVITE_ALL] }, { INVITE_ALLOW_PROFILE: 'true' });
    await submit(deps, invitationFor('no.write@fabrikam.com', { profile: { department: 'Sales' } }));
    const id = recordIdForEmail('no.write@fabrikam.com');
    await waitFor(async () => (await deps.store.getById(id))?.record.profileStatus === 'Failed', { what: 'the profile failed' });
    const { record } = (await deps.store.getById(id))!;
    expect(record.status).toBe('Invited');
    expect(record.profileError).toContain('User.ReadWrite.All');
    const results = await deps.batchReports.resultsCsv(record.batchId);
    expect(results).toContain('Failed: the app may not write users');
  });

  it('is refused (400, naming the setting) unless the operator allows profiles, and takes the CSV’s profile columns when allowed', async () => {
    const refusing = await createTestDependencies();
    const refused = await submit(refusing, invitationFor('refused@fabrikam.com', { profile: { department: 'Sales' } }));
    expect(refused.status).toBe(400);
    expect(refused.json.rejected[0].errors[0]).toMatchObject({ path: 'profile', message: expect.stringContaining('INVITE_ALLOW_PROFILE') });
    expect(await refusing.store.findByEmail('refused@fabrikam.com')).toEqual([]);

    const allowing = await createTestDependencies({ INVITE_ALLOW_PROFILE: 'true' });
    const csv = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Given name [givenName],Department [department],Usage location [usageLocation]',
      'csv.joiner@fabrikam.com,https://myapps.microsoft.com,Cy,Finance,fr',
      'bad.joiner@fabrikam.com,https://myapps.microsoft.com,Dee,Finance,France',
    ].join('\n');
    const response = await submit(allowing, csv, { contentType: 'text/csv' });
    expect(response.status).toBe(202);
    const [stored] = await Promise.all([allowing.store.getById(recordIdForEmail('csv.joiner@fabrikam.com'))]);
    expect(stored!.invitation.profile).toEqual({ givenName: 'Cy', department: 'Finance', usageLocation: 'FR' });
    expect(response.json.rejected[0].errors[0]).toMatchObject({
      path: 'profile.usageLocation',
      message: expect.stringContaining('two-letter'),
    });
  });

  it('bounds every field as Entra does, and refuses an empty profile', async () => {
    const deps = await createTestDependencies({ INVITE_ALLOW_PROFILE: 'true' });
    const response = await submit(deps, {
      invitations: [
        invitationFor('long@fabrikam.com', { profile: { employeeId: 'E'.repeat(17) } }),
        invitationFor('empty@fabrikam.com', { profile: {} }),
        invitationFor('extra@fabrikam.com', { profile: { mobilePhone: '+44 20 7946 0000' } }),
      ],
    });
    expect(response.status).toBe(400);
    expect(response.json.rejected.map((item: { errors: { path: string }[] }) => item.errors[0]!.path)).toEqual([
      'invitations[0].profile.employeeId',
      'invitations[1].profile',
      'invitations[2].profile.mobilePhone',
    ]);
  });
});

describe('a mover', () => {
  it('has only the changed fields written onto the same guest: no second invitation, no email, Accepted or not', async () => {
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, USER_READ_WRITE_ALL] },
      { INVITE_ALLOW_PROFILE: 'true' },
    );
    const id = recordIdForEmail('mover@fabrikam.com');
    const profileSet = (what: string) =>
      waitFor(async () => (await deps.store.getById(id))?.record.profileStatus === 'Set', { timeoutMs: 20_000, what });
    const joiner = { sendInvitationMessage: true, externalId: 'HR-7', profile: { department: 'Procurement', jobTitle: 'Buyer' } };
    await submit(deps, invitationFor('mover@fabrikam.com', joiner));
    await profileSet('the joiner’s profile');
    const guest = tenant.emulator.directory.findByEmail('mover@fabrikam.com')!;
    tenant.emulator.directory.redeem('mover@fabrikam.com');
    await deps.redemptionTracker.run();
    expect((await deps.store.getById(id))!.record.status).toBe('Accepted');

    // The same profile again is a duplicate and writes nothing.
    const same = await submit(deps, invitationFor('mover@fabrikam.com', joiner));
    expect(same.json.items[0]).toMatchObject({ duplicate: true });
    expect(same.json.items[0].profileChanged).toBeUndefined();

    // HR moves them to Sales.
    const moved = await submit(
      deps,
      invitationFor('mover@fabrikam.com', { ...joiner, profile: { department: 'Sales', jobTitle: 'Buyer' } }),
    );
    expect(moved.json.items[0]).toMatchObject({ id, duplicate: true, profileChanged: true, status: 'Accepted' });
    await waitFor(async () => guest.department === 'Sales', { timeoutMs: 20_000, what: 'the move written' });
    await profileSet('the mover’s profile');
    expect(tenant.emulator.directory.profileWrites.map((write) => write.fields)).toEqual([
      { department: 'Procurement', jobTitle: 'Buyer' },
      { department: 'Sales' },
    ]);
    expect(tenant.emulator.callsFor('mover@fabrikam.com')).toHaveLength(1); // one invitation, one email: the joiner's
    expect((await deps.store.getById(id))!.record).toMatchObject({ status: 'Accepted', profileStatus: 'Set' });
  });

  it('joins the groups now named and leaves only those this app added, with no invitation', async () => {
    const [g1, g2, g3] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, GROUP_MEMBER_READ_WRITE_ALL] },
      { INVITE_ALLOWED_GROUPS: [g1, g2, g3].join(',') },
    );
    for (const group of [g1, g2, g3]) tenant.emulator.directory.groups.set(group, new Set());
    const id = recordIdForEmail('team.mover@fabrikam.com');
    const groupsDone = (what: string) =>
      waitFor(
        async () => {
          const groups = (await deps.store.getById(id))?.record.groups ?? [];
          return groups.length > 0 && groups.every((group) => ['Added', 'Removed'].includes(group.status));
        },
        { timeoutMs: 20_000, what },
      );
    await submit(deps, invitationFor('team.mover@fabrikam.com', { groups: [g1, g2] }));
    await groupsDone('the joiner’s groups');
    const guestId = tenant.emulator.directory.findByEmail('team.mover@fabrikam.com')!.id;

    const moved = await submit(deps, invitationFor('team.mover@fabrikam.com', { groups: [g2, g3] }));
    expect(moved.json.items[0]).toMatchObject({ duplicate: true, profileChanged: true });
    await groupsDone('the mover’s groups');
    expect((await deps.store.getById(id))!.record.groups).toEqual([
      { id: g2, status: 'Added' },
      { id: g3, status: 'Added' },
      { id: g1, status: 'Removed' },
    ]);
    expect([g1, g2, g3].map((group) => tenant.emulator.directory.groups.get(group)!.has(guestId))).toEqual([false, true, true]);
    expect(tenant.emulator.callsFor('team.mover@fabrikam.com')).toHaveLength(1);
  });
});
