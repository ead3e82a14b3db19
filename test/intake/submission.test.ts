import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { MAX_BODY_BYTES } from '../../shared/intake/submission';
import { clearQueue, createTestDependencies, invitationFor, queueLength, queuedMessages, submit, tableRowCount } from '../support/harness';

let deps: AppDependencies;
beforeAll(async () => {
  // Every field Graph takes, as an operator who granted each power (intake/invitationPolicy.ts; test/intake/callerPowers.test.ts refuses them).
  deps = await createTestDependencies({ INVITE_ALLOW_MEMBER_TYPE: 'true', INVITE_ALLOW_CC: 'true', INVITE_ALLOW_CUSTOM_MESSAGE: 'true' });
});
beforeEach(async () => {
  await clearQueue(deps);
});

async function expectNothingWritten(action: () => Promise<unknown>) {
  const rowsBefore = await tableRowCount(deps);
  await action();
  expect(await queueLength(deps)).toBe(0);
  expect(await tableRowCount(deps)).toBe(rowsBefore);
}

describe('POST /api/invitations with JSON', () => {
  it('accepts one invitation with 202, its record, a status URL and the batch Location', async () => {
    const response = await submit(deps, invitationFor('ann@fabrikam.com', { invitedUserDisplayName: 'Ann Lee' }));
    expect(response.status).toBe(202);
    const { batchId, items } = response.json;
    expect(items).toEqual([
      {
        index: 0,
        id: expect.stringMatching(/^[0-9a-f]{32}$/),
        email: 'ann@fabrikam.com',
        status: 'Queued',
        duplicate: false,
        statusUrl: `http://localhost:7071/api/invitations/${items[0].id}`,
      },
    ]);
    expect(response.headers.get('location')).toBe(`http://localhost:7071/api/batches/${batchId}`);
    expect(await queuedMessages(deps)).toEqual([{ id: items[0].id, batchId, queuedAt: expect.any(String) }]);
  });

  it('accepts a batch with its own batchId and queues only the valid items', async () => {
    const response = await submit(deps, {
      batchId: 'hr-2026-11-22',
      invitations: [invitationFor('bea@fabrikam.com'), invitationFor('not-an-address'), invitationFor('cid@fabrikam.com')],
    });
    expect(response.status).toBe(202);
    expect(response.json.batchId).toBe('hr-2026-11-22');
    expect(response.json.items.map((item: { index: number }) => item.index)).toEqual([0, 2]);
    expect(response.json.rejected).toEqual([
      { index: 1, errors: [{ path: 'invitations[1].invitedUserEmailAddress', message: expect.any(String) }] },
    ]);
    expect(await queueLength(deps)).toBe(2);
  });

  it('answers 400 with the same body shape when no item is valid', async () => {
    await expectNothingWritten(async () => {
      const response = await submit(deps, { invitations: [invitationFor('x'), { inviteRedirectUrl: 'https://a.example' }] });
      expect(response.status).toBe(400);
      expect(response.json.items).toEqual([]);
      expect(response.json.rejected.map((item: { index: number }) => item.index)).toEqual([0, 1]);
      expect(response.json.rejected[1].errors[0].path).toBe('invitations[1].invitedUserEmailAddress');
    });
  });

  it("ignores @odata.type annotations and matches property names case-insensitively, as Graph's own example is written", async () => {
    const graphExample = {
      '@odata.type': '#Microsoft.AADInviteMgr.invitation',
      InvitedUserEmailAddress: 'dee@fabrikam.com',
      inviteredirecturl: 'https://example.com/inviteRedirectUrl/',
      InvitedUserMessageInfo: {
        '@odata.type': 'Microsoft.AADInviteMgr.invitedUserMessageInfo',
        CCRecipients: [
          { '@odata.type': 'Microsoft.AADInviteMgr.recipient', EmailAddress: { Name: 'Name value', ADDRESS: 'boss@fabrikam.com' } },
        ],
        messageLanguage: 'fr-FR',
        customizedMessageBody: 'Bienvenue',
      },
      SendInvitationMessage: true,
    };
    const response = await submit(deps, graphExample);
    expect(response.status).toBe(202);
    const stored = await deps.store.getById(response.json.items[0].id);
    expect(stored?.invitation).toMatchObject({
      invitedUserEmailAddress: 'dee@fabrikam.com',
      sendInvitationMessage: true,
      invitedUserType: 'Guest',
      invitedUserMessageInfo: {
        ccRecipients: [{ emailAddress: { name: 'Name value', address: 'boss@fabrikam.com' } }],
        messageLanguage: 'fr-FR',
      },
    });
  });

  it.each(['id', 'status', 'inviteRedeemUrl', 'InviteRedeemUrl'])('rejects the read-only property %s, naming it', async (property) => {
    await expectNothingWritten(async () => {
      const response = await submit(deps, invitationFor('eve@fabrikam.com', { [property]: 'x' }));
      expect(response.status).toBe(400);
      expect(response.json.rejected[0].errors).toEqual([
        { path: property.charAt(0).toLowerCase() + property.slice(1), message: expect.stringContaining('read-only') },
      ]);
    });
  });

  it('rejects unknown properties, at any depth, naming each', async () => {
    const response = await submit(deps, {
      invitations: [invitationFor('fay@fabrikam.com', { department: 'Sales', invitedUserMessageInfo: { tone: 'warm' } })],
    });
    expect(response.status).toBe(400);
    expect(response.json.rejected[0].errors).toEqual(
      expect.arrayContaining([
        { path: 'invitations[0].department', message: 'is not a property of an invitation' },
        { path: 'invitations[0].invitedUserMessageInfo.tone', message: 'is not a property of an invitation' },
      ]),
    );
  });

  it.each([
    ['a relative redirect URL', { inviteRedirectUrl: '/home' }, 'inviteRedirectUrl'],
    ['a non-http redirect URL', { inviteRedirectUrl: 'ftp://files.fabrikam.com' }, 'inviteRedirectUrl'],
    ['a user type other than Guest or Member', { invitedUserType: 'Admin' }, 'invitedUserType'],
    [
      'two cc recipients',
      { invitedUserMessageInfo: { ccRecipients: [{ emailAddress: { address: 'a@b.com' } }, { emailAddress: { address: 'c@d.com' } }] } },
      'invitedUserMessageInfo.ccRecipients',
    ],
    [
      'a cc recipient with a forbidden character',
      { invitedUserMessageInfo: { ccRecipients: [{ emailAddress: { address: 'a+b@b.com' } }] } },
      'invitedUserMessageInfo.ccRecipients[0].emailAddress.address',
    ],
    [
      'a malformed message language',
      { invitedUserMessageInfo: { messageLanguage: 'english please' } },
      'invitedUserMessageInfo.messageLanguage',
    ],
    ['an http redirect URL', { inviteRedirectUrl: 'http://myapps.microsoft.com' }, 'inviteRedirectUrl'],
    ['resetRedemption from a caller', { resetRedemption: true }, 'resetRedemption'],
    ['invitedUser from a caller', { invitedUser: { id: '7b6e2d3c-1f4a-4c8e-9d2b-5a6f7e8d9c0b' } }, 'invitedUser'],
    ['a sponsor that is not an object id', { invitedUserSponsors: [{ id: 'boss' }] }, 'invitedUserSponsors[0].id'],
    ['sendInvitationMessage as a string', { sendInvitationMessage: 'yes' }, 'sendInvitationMessage'],
    ['a control character in externalId', { externalId: 'a\u0007b' }, 'externalId'],
  ])('rejects %s at the right path', async (_, extra, path) => {
    const response = await submit(deps, invitationFor('gus@fabrikam.com', extra));
    expect(response.status).toBe(400);
    expect(response.json.rejected[0].errors.map((error: { path: string }) => error.path)).toContain(path);
    expect(await queueLength(deps)).toBe(0);
  });

  it('says why "at most 1 cc recipient" in Graph\'s own words', async () => {
    const response = await submit(
      deps,
      invitationFor('hal@fabrikam.com', {
        invitedUserMessageInfo: { ccRecipients: [{ emailAddress: { address: 'a@b.com' } }, { emailAddress: { address: 'c@d.com' } }] },
      }),
    );
    expect(response.json.rejected[0].errors[0].message).toContain('Currently only 1 additional recipient is supported');
  });

  it('accepts every documented field a caller may use, Member type and sponsors included', async () => {
    const response = await submit(
      deps,
      invitationFor('ivy@fabrikam.com', {
        invitedUserDisplayName: 'Ivy',
        invitedUserType: 'member',
        sendInvitationMessage: true,
        invitedUserMessageInfo: {
          ccRecipients: [{ emailAddress: { address: 'boss@contoso.com', name: 'Boss' } }],
          customizedMessageBody: 'Hi',
          messageLanguage: 'en-US',
        },
        invitedUserSponsors: [{ id: '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e' }],
        resetRedemption: false, // Graph's default, as its reference writes it: asks for nothing
        externalId: 'HR-000123',
      }),
    );
    expect(response.status).toBe(202);
    const stored = await deps.store.getById(response.json.items[0].id);
    expect(stored?.invitation.invitedUserType).toBe('Member');
    expect(stored?.record.externalId).toBe('HR-000123');
  });
});

describe('POST /api/invitations refuses what it cannot read with a problem, never a 5xx', () => {
  async function expectProblem(response: { status: number; headers: Headers; json: any }, status: number, detail: string) {
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.json).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
    expect(response.json.detail).toContain(detail);
  }

  it('400 for malformed JSON', async () => {
    await expectNothingWritten(async () => expectProblem(await submit(deps, '{"invitedUserEmailAddress": '), 400, 'not valid JSON'));
  });

  it('400 for a JSON value that is not an object', async () => {
    await expectNothingWritten(async () => expectProblem(await submit(deps, '[1,2]'), 400, 'one invitation object'));
  });

  it('400 when "invitations" is not an array, or sits beside an unknown property', async () => {
    await expectProblem(await submit(deps, { invitations: 'all of them' }), 400, '"invitations" must be an array');
    await expectProblem(await submit(deps, { invitations: [], priority: 'high' }), 400, 'Unknown property "priority"');
  });

  it('400 for a batchId that cannot be a key', async () => {
    await expectProblem(await submit(deps, { batchId: 'a/b', invitations: [invitationFor('jo@fabrikam.com')] }), 400, '"batchId"');
  });

  it('400 for a body that is not UTF-8', async () => {
    await expectNothingWritten(async () =>
      expectProblem(await submit(deps, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 400, 'not valid UTF-8'),
    );
  });

  it('413 for more than 1,000 items', async () => {
    const invitations = Array.from({ length: 1001 }, (_, i) => invitationFor(`p${i}@fabrikam.com`));
    await expectNothingWritten(async () => expectProblem(await submit(deps, { invitations }), 413, 'at most 1000'));
  });

  it('413 for a body over the size limit', async () => {
    const huge = JSON.stringify(invitationFor('kay@fabrikam.com', { invitedUserDisplayName: 'x'.repeat(MAX_BODY_BYTES) }));
    await expectNothingWritten(async () => expectProblem(await submit(deps, huge), 413, `${MAX_BODY_BYTES} bytes`));
  });

  it('415 for an unsupported Content-Type or charset', async () => {
    const body = JSON.stringify(invitationFor('lea@fabrikam.com'));
    await expectNothingWritten(async () => {
      await expectProblem(await submit(deps, body, { contentType: 'application/xml' }), 415, 'application/xml');
      await expectProblem(await submit(deps, body, { contentType: 'application/json; charset=iso-8859-1' }), 415, 'UTF-8');
    });
  });

  it('accepts application/json with charset=utf-8', async () => {
    const response = await submit(deps, JSON.stringify(invitationFor('max@fabrikam.com')), {
      contentType: 'application/json; charset=UTF-8',
    });
    expect(response.status).toBe(202);
  });
});
