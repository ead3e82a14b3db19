import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { signBody } from '../../shared/webhookSignature';
import { clearQueue, createTestDependencies, invitationFor, queueLength, submit, tableRowCount } from '../support/harness';

describe('domain policy', () => {
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies({
      INVITE_ALLOWED_DOMAINS: 'fabrikam.com, contoso.co.uk',
      INVITE_BLOCKED_DOMAINS: 'blocked.fabrikam.com',
    });
  });
  beforeEach(async () => {
    await clearQueue(deps);
  });

  it('accepts allowed domains and their subdomains, rejects the rest with the reason', async () => {
    const response = await submit(deps, {
      invitations: [
        invitationFor('a@fabrikam.com'),
        invitationFor('b@eu.contoso.co.uk'),
        invitationFor('c@gmail.com'),
        invitationFor('d@mail.blocked.fabrikam.com'),
        invitationFor('e@notfabrikam.com'),
      ],
    });
    expect(response.status).toBe(202);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual(['a@fabrikam.com', 'b@eu.contoso.co.uk']);
    expect(response.json.rejected).toEqual([
      { index: 2, errors: [{ path: 'invitations[2].invitedUserEmailAddress', message: expect.stringContaining('INVITE_ALLOWED_DOMAINS') }] },
      { index: 3, errors: [{ path: 'invitations[3].invitedUserEmailAddress', message: expect.stringContaining('blocked domain blocked.fabrikam.com') }] },
      { index: 4, errors: [{ path: 'invitations[4].invitedUserEmailAddress', message: expect.stringContaining('INVITE_ALLOWED_DOMAINS') }] },
    ]);
    expect(await queueLength(deps)).toBe(2);
  });
});

describe('webhook signature (INTAKE_HMAC_SECRET)', () => {
  const secret = 'hr-system-shared-secret';
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies({ INTAKE_HMAC_SECRET: secret });
  });

  const body = JSON.stringify(invitationFor('signed@fabrikam.com'));

  it('accepts a body signed with sha256=<hex HMAC>', async () => {
    const response = await submit(deps, body, { headers: { 'x-signature': signBody(secret, body) } });
    expect(response.status).toBe(202);
    await clearQueue(deps);
  });

  it.each([
    ['missing', undefined],
    ['signed with another secret', signBody('wrong', body)],
    ['signed over another body', signBody(secret, `${body} `)],
    ['malformed', 'sha256=zz'],
  ])('answers 401 problem when the signature is %s, writing nothing', async (_, signature) => {
    const rowsBefore = await tableRowCount(deps);
    const response = await submit(deps, body, { headers: signature ? { 'x-signature': signature } : {} });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.json.detail).toMatch(/x-signature/);
    expect(await queueLength(deps)).toBe(0);
    expect(await tableRowCount(deps)).toBe(rowsBefore);
  });
});
