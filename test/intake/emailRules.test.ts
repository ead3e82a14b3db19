import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { FORBIDDEN_EMAIL_CHARACTERS } from '../../shared/core/emailAddress';
import { clearQueue, createTestDependencies, invitationFor, queueLength, submit, tableRowCount } from '../support/harness';

describe('email addresses follow the User.Invite.All rules', () => {
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies();
  });
  beforeEach(async () => {
    await clearQueue(deps);
  });

  it.each(FORBIDDEN_EMAIL_CHARACTERS.map((character) => [character]))(
    "rejects an address whose user name contains '%s', naming it, and writes nothing",
    async (character) => {
      const rowsBefore = await tableRowCount(deps);
      const response = await submit(deps, invitationFor(`ann${character}lee@fabrikam.com`));
      expect(response.status).toBe(400);
      expect(response.json.rejected).toEqual([
        { index: 0, errors: [{ path: 'invitedUserEmailAddress', message: expect.stringContaining(`'${character}'`) }] },
      ]);
      expect(await queueLength(deps)).toBe(0);
      expect(await tableRowCount(deps)).toBe(rowsBefore);
    },
  );

  it.each([
    ['.ann@fabrikam.com', "start the user name with '.'"],
    ['ann.@fabrikam.com', "end the user name with '.'"],
    ['-ann@fabrikam.com', "start the user name with '-'"],
    ['ann-@fabrikam.com', "end the user name with '-'"],
  ])('rejects %s: "." and "-" may not be first or last', async (email, message) => {
    const response = await submit(deps, invitationFor(email));
    expect(response.status).toBe(400);
    expect(response.json.rejected[0].errors[0].message).toContain(message);
    expect(await queueLength(deps)).toBe(0);
  });

  it('accepts "." and "-" inside the user name and "_" anywhere, first and last included', async () => {
    const emails = ['ann.lee-smith@fabrikam.com', '_ann@fabrikam.com', 'ann_@fabrikam.com', '_@fabrikam.com', 'a.b-c_d@fabrikam.com'];
    const response = await submit(deps, { invitations: emails.map((email) => invitationFor(email)) });
    expect(response.status).toBe(202);
    expect(response.json.rejected).toEqual([]);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual(emails);
    expect(await queueLength(deps)).toBe(emails.length);
  });

  it.each([
    ['ann@', 'valid domain'],
    ['ann@fabrikam', 'valid domain'],
    ['ann@-fabrikam.com', 'valid domain'],
    ['ann@fabrikam..com', 'valid domain'],
    ['ann@fabrikam.c', 'valid domain'],
    ['ann@fab_rikam.com', 'valid domain'],
    ['annfabrikam.com', 'no "@"'],
    ['@fabrikam.com', 'user name before "@"'],
    ['ann@lee@fabrikam.com', 'exactly one "@"'],
    ['ann lee@fabrikam.com', 'spaces'],
  ])('rejects %s (%s)', async (email, message) => {
    const response = await submit(deps, invitationFor(email));
    expect(response.status).toBe(400);
    expect(response.json.rejected[0].errors[0]).toEqual({ path: 'invitedUserEmailAddress', message: expect.stringContaining(message) });
  });

  it('treats the lower-cased, trimmed address as the person', async () => {
    const response = await submit(deps, invitationFor('  Ann.Lee@Fabrikam.COM '));
    expect(response.status).toBe(202);
    expect(response.json.items[0].email).toBe('ann.lee@fabrikam.com');
  });

  it('accepts an internationalized domain', async () => {
    const response = await submit(deps, invitationFor('jürgen@münchen.de'));
    expect(response.status).toBe(202);
  });
});
