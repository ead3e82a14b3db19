import { describe, expect, it, beforeAll } from 'vitest';
import { submitInvitations } from '../../functions/submitInvitations';
import { createTestDependencies, invokeHttp } from '../support/harness';

describe('smoke', () => {
  let deps: Awaited<ReturnType<typeof createTestDependencies>>;
  beforeAll(async () => { deps = await createTestDependencies(); });
  it('accepts one invitation', async () => {
    const r = await invokeHttp(submitInvitations, deps, { method: 'POST', path: '/api/invitations', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ invitedUserEmailAddress: 'a@fabrikam.com', inviteRedirectUrl: 'https://myapps.microsoft.com' }) });
    console.log(r.status, r.text);
    expect(r.status).toBe(202);
  });
});
