import { afterEach, describe, expect, it } from 'vitest';
import { USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationFor, submit } from '../support/harness';
import { startPipeline, waitForStatus } from '../support/pipeline';

/** A sponsor must be a member of the tenant, read before Graph sets it (shared/worker/sponsorCheck.ts). */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

describe('sponsors', () => {
  it('sets a member as sponsor, and refuses a guest or an unknown id for that person alone, without calling Graph for them', async () => {
    const { deps, tenant } = await startPipeline(cleanup, { roles: [USER_INVITE_ALL, USER_READ_ALL] });
    const member = tenant.emulator.directory.add({ mail: 'dana@contoso.com', userType: 'Member' });
    const guest = tenant.emulator.directory.add({ mail: 'outsider@northwind.example', userType: 'Guest' });
    const unknown = crypto.randomUUID();
    const cases = {
      'sponsored@fabrikam.com': [member.id],
      'guest-sponsored@fabrikam.com': [member.id, guest.id],
      'nobody-sponsored@fabrikam.com': [unknown],
    };
    await submit(deps, {
      invitations: Object.entries(cases).map(([email, ids]) => invitationFor(email, { invitedUserSponsors: ids.map((id) => ({ id })) })),
    });

    expect(await waitForStatus(deps, recordIdForEmail('sponsored@fabrikam.com'), 'Invited')).toBeDefined();
    expect(tenant.emulator.callsFor('sponsored@fabrikam.com')).toEqual([expect.objectContaining({ status: 201 })]);
    const byGuest = await waitForStatus(deps, recordIdForEmail('guest-sponsored@fabrikam.com'), 'Failed');
    expect(byGuest.error).toMatchObject({
      code: 'SponsorNotMember',
      message: expect.stringContaining(`invitedUserSponsors[1] (${guest.id}) is a Guest`),
    });
    const byNobody = await waitForStatus(deps, recordIdForEmail('nobody-sponsored@fabrikam.com'), 'Failed');
    expect(byNobody.error).toMatchObject({ code: 'SponsorNotMember', message: expect.stringContaining('is no user of this tenant') });
    expect(tenant.emulator.callsFor('guest-sponsored@fabrikam.com')).toEqual([]);
    expect(tenant.emulator.callsFor('nobody-sponsored@fabrikam.com')).toEqual([]);
  });

  it('refuses sponsors it may not read (no User.Read.All) rather than setting them unchecked', async () => {
    const { deps, tenant } = await startPipeline(cleanup, {});
    await submit(deps, invitationFor('unchecked@fabrikam.com', { invitedUserSponsors: [{ id: crypto.randomUUID() }] }));
    const record = await waitForStatus(deps, recordIdForEmail('unchecked@fabrikam.com'), 'Failed');
    expect(record.error).toMatchObject({ code: 'SponsorNotMember', message: expect.stringContaining('User.Read.All') });
    expect(tenant.emulator.callsFor('unchecked@fabrikam.com')).toEqual([]);
  });
});
