import { describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { clearQueue, createTestDependencies, invitationFor, queueLength, submit, tableRowCount, writeRecord } from '../support/harness';

/**
 * Holding a key lets a caller submit people; every further power is the operator's to grant
 * (shared/intake/invitationPolicy.ts, docs/security.md). Each refusal names the setting, writes
 * nothing and queues nothing.
 */

const ENGINEERING = '6b4a1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d';
const RBAC_OWNERS = '0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f';

async function expectRefusedAlone(deps: AppDependencies, item: object, path: string, setting: string) {
  const rowsBefore = await tableRowCount(deps);
  const queuedBefore = await queueLength(deps);
  const response = await submit(deps, item);
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.json.rejected).toEqual([
    { index: 0, errors: [expect.objectContaining({ path, message: expect.stringContaining(setting) })] },
  ]);
  expect(await tableRowCount(deps)).toBe(rowsBefore);
  expect(await queueLength(deps)).toBe(queuedBefore);
}

describe('a caller gets only the powers the operator granted', () => {
  it('names no group at all while INVITE_ALLOWED_GROUPS is unset, in JSON or in the CSV’s [groups] column', async () => {
    const deps = await createTestDependencies();
    await expectRefusedAlone(deps, invitationFor('g1@fabrikam.com', { groups: [RBAC_OWNERS] }), 'groups[0]', 'INVITE_ALLOWED_GROUPS');
    const csv = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Groups [groups]',
      `g2@fabrikam.com,https://myapps.microsoft.com,${RBAC_OWNERS}`,
    ].join('\n');
    const response = await submit(deps, csv, { contentType: 'text/csv' });
    expect(response.status).toBe(400);
    expect(response.json.rejected[0]).toMatchObject({
      line: 3,
      errors: [{ path: 'groups[0]', message: expect.stringContaining('INVITE_ALLOWED_GROUPS') }],
    });
    expect(await queueLength(deps)).toBe(0);
  });

  it('takes the groups INVITE_ALLOWED_GROUPS lists, in any case, and refuses any other by its index', async () => {
    const deps = await createTestDependencies({ INVITE_ALLOWED_GROUPS: ENGINEERING.toUpperCase() });
    const allowed = await submit(deps, invitationFor('g3@fabrikam.com', { groups: [ENGINEERING] }));
    expect(allowed.status).toBe(202);
    await expectRefusedAlone(
      deps,
      invitationFor('g4@fabrikam.com', { groups: [ENGINEERING, RBAC_OWNERS] }),
      'groups[1]',
      'INVITE_ALLOWED_GROUPS',
    );
  });

  it('creates a Member only with INVITE_ALLOW_MEMBER_TYPE=true', async () => {
    const refusing = await createTestDependencies();
    await expectRefusedAlone(
      refusing,
      invitationFor('m1@fabrikam.com', { invitedUserType: 'Member' }),
      'invitedUserType',
      'INVITE_ALLOW_MEMBER_TYPE',
    );
    const granting = await createTestDependencies({ INVITE_ALLOW_MEMBER_TYPE: 'true' });
    expect((await submit(granting, invitationFor('m1@fabrikam.com', { invitedUserType: 'Member' }))).status).toBe(202);
  });

  it('sends a redemption link to a cc only with INVITE_ALLOW_CC=true', async () => {
    const cc = { invitedUserMessageInfo: { ccRecipients: [{ emailAddress: { address: 'attacker@fabrikam.com' } }] } };
    const refusing = await createTestDependencies();
    await expectRefusedAlone(refusing, invitationFor('c1@fabrikam.com', cc), 'invitedUserMessageInfo.ccRecipients', 'INVITE_ALLOW_CC');
    const granting = await createTestDependencies({ INVITE_ALLOW_CC: 'true' });
    expect((await submit(granting, invitationFor('c1@fabrikam.com', cc))).status).toBe(202);
  });

  it('speaks in the organisation’s name only in the operator’s words: a named template, or a caller’s own text with INVITE_ALLOW_CUSTOM_MESSAGE=true', async () => {
    const templates = JSON.stringify({ welcome: 'Welcome to the Contoso partner portal.' });
    const deps = await createTestDependencies({ INVITE_MESSAGE_TEMPLATES: templates });
    const phishing = { invitedUserMessageInfo: { customizedMessageBody: 'Your account is locked: sign in at https://evil.example' } };
    await expectRefusedAlone(
      deps,
      invitationFor('t1@fabrikam.com', phishing),
      'invitedUserMessageInfo.customizedMessageBody',
      'INVITE_ALLOW_CUSTOM_MESSAGE',
    );
    await expectRefusedAlone(
      deps,
      invitationFor('t1@fabrikam.com', { messageTemplate: 'urgent' }),
      'messageTemplate',
      'INVITE_MESSAGE_TEMPLATES',
    );

    // A template's text is the message, and replaces any body beside it.
    const named = await submit(deps, invitationFor('t2@fabrikam.com', { messageTemplate: 'welcome', ...phishing }));
    expect(named.status).toBe(202);
    const stored = await deps.store.getById(recordIdForEmail('t2@fabrikam.com'));
    expect(stored?.invitation.invitedUserMessageInfo?.customizedMessageBody).toBe('Welcome to the Contoso partner portal.');

    const granting = await createTestDependencies({ INVITE_ALLOW_CUSTOM_MESSAGE: 'true' });
    expect((await submit(granting, invitationFor('t3@fabrikam.com', phishing))).status).toBe(202);
  });

  it('lands a guest only on https, and only on a host INVITE_ALLOWED_REDIRECT_HOSTS names exactly', async () => {
    const deps = await createTestDependencies({ INVITE_ALLOWED_REDIRECT_HOSTS: 'myapps.microsoft.com' });
    expect(
      (await submit(deps, invitationFor('r1@fabrikam.com', { inviteRedirectUrl: 'https://myapps.microsoft.com/?tenant=x' }))).status,
    ).toBe(202);
    for (const inviteRedirectUrl of [
      'https://evil.example/login',
      'https://myapps.microsoft.com.evil.example/',
      'https://myapps.microsoft.com:8443/',
    ]) {
      await expectRefusedAlone(
        deps,
        invitationFor('r2@fabrikam.com', { inviteRedirectUrl }),
        'inviteRedirectUrl',
        'INVITE_ALLOWED_REDIRECT_HOSTS',
      );
    }
    const response = await submit(deps, invitationFor('r3@fabrikam.com', { inviteRedirectUrl: 'http://myapps.microsoft.com' }));
    expect(response.json.rejected[0].errors[0]).toEqual({ path: 'inviteRedirectUrl', message: expect.stringContaining('https') });
  });
});

describe('a later submission cannot take over what an earlier one set', () => {
  it('a resend sends the same invitation again: the first cc, groups and message stay, whatever the resend names', async () => {
    const deps = await createTestDependencies({
      INVITE_ALLOW_CC: 'true',
      INVITE_ALLOW_CUSTOM_MESSAGE: 'true',
      INVITE_ALLOWED_GROUPS: `${ENGINEERING},${RBAC_OWNERS}`,
    });
    const email = 'pending@fabrikam.com';
    const first = {
      groups: [ENGINEERING],
      invitedUserMessageInfo: { ccRecipients: [{ emailAddress: { address: 'manager@fabrikam.com' } }], customizedMessageBody: 'Welcome.' },
    };
    expect((await submit(deps, invitationFor(email, first))).status).toBe(202);
    const id = recordIdForEmail(email);
    await writeRecord(deps, id, { status: 'Invited', invitedUserId: 'guest-1' });
    await clearQueue(deps);

    const takeover = await submit(
      deps,
      invitationFor(email, {
        resend: true,
        groups: [RBAC_OWNERS],
        invitedUserMessageInfo: {
          ccRecipients: [{ emailAddress: { address: 'attacker@fabrikam.com' } }],
          customizedMessageBody: 'Click here.',
        },
      }),
    );
    expect(takeover.json.items[0]).toMatchObject({ duplicate: false, status: 'Queued' });
    const stored = await deps.store.getById(id);
    expect(stored?.invitation).toMatchObject({ ...first, resend: true });
  });

  it('keeps the callbackUrl of the submission that created the person', async () => {
    const deps = await createTestDependencies({
      CALLBACK_ALLOWED_HOSTS: 'hr.contoso.com,hooks.fabrikam.com',
      NOTIFY_HMAC_SECRET: 'notify-secret-0123456789abcdef0123456789',
    });
    const email = 'callback@fabrikam.com';
    await submit(deps, invitationFor(email, { callbackUrl: 'https://hr.contoso.com/hooks/invitations' }));
    const id = recordIdForEmail(email);
    await writeRecord(deps, id, { status: 'Failed', errorCode: 'BadRequest', errorMessage: 'no' });
    const again = await submit(deps, invitationFor(email, { callbackUrl: 'https://hooks.fabrikam.com/steal' }));
    expect(again.json.items[0]).toMatchObject({ duplicate: false, status: 'Queued' });
    expect((await deps.store.getById(id))?.invitation.callbackUrl).toBe('https://hr.contoso.com/hooks/invitations');
  });

  it('invites one person again at most INVITE_RESEND_MAX_PER_DAY times a day, and says until when', async () => {
    const deps = await createTestDependencies({ INVITE_RESEND_MAX_PER_DAY: '2' });
    const email = 'bombed@fabrikam.com';
    await submit(deps, invitationFor(email));
    const id = recordIdForEmail(email);
    await clearQueue(deps);
    for (let resend = 1; resend <= 2; resend += 1) {
      await writeRecord(deps, id, { status: 'Invited' });
      const response = await submit(deps, invitationFor(email, { resend: true }));
      expect(response.status).toBe(202);
      expect((await deps.store.getById(id))?.record.resendCount).toBe(resend);
    }
    await writeRecord(deps, id, { status: 'Invited' });
    await clearQueue(deps);
    const third = await submit(deps, invitationFor(email, { resend: true }));
    expect(third.status).toBe(400);
    expect(third.json.rejected[0].errors[0].message).toMatch(/INVITE_RESEND_MAX_PER_DAY is 2\): submit again after \d{4}-/);
    expect(await queueLength(deps)).toBe(0);
    expect((await deps.store.getById(id))?.record.status).toBe('Invited');
  });
});

describe('one caller cannot mail-bomb many partners, one resend each', () => {
  it('re-invites at most INVITE_RESEND_MAX_PER_CALLER_PER_DAY people a day for one caller, while another caller keeps its own budget', async () => {
    const deps = await createTestDependencies({ API_CALLER_AUTH: 'entra', INVITE_RESEND_MAX_PER_CALLER_PER_DAY: '1' });
    const as = (oid: string) => ({
      headers: {
        'x-ms-client-principal': Buffer.from(
          JSON.stringify({
            claims: [
              { typ: 'oid', val: oid },
              { typ: 'roles', val: 'Invitations.Submit' },
            ],
            role_typ: 'roles',
          }),
        ).toString('base64'),
      },
    });
    const people = ['first@fabrikam.com', 'second@fabrikam.com'];
    await submit(deps, { invitations: people.map((email) => invitationFor(email)) }, as('hr-system'));
    for (const email of people) await writeRecord(deps, recordIdForEmail(email), { status: 'Invited' });
    await clearQueue(deps);

    expect((await submit(deps, invitationFor(people[0]!, { resend: true }), as('hr-system'))).status).toBe(202);
    const second = await submit(deps, invitationFor(people[1]!, { resend: true }), as('hr-system'));
    expect(second.status).toBe(400);
    expect(second.json.rejected[0].errors[0].message).toContain('INVITE_RESEND_MAX_PER_CALLER_PER_DAY');
    expect((await deps.store.getById(recordIdForEmail(people[1]!)))?.record.status).toBe('Invited');
    expect(await queueLength(deps)).toBe(1);
    expect((await submit(deps, invitationFor(people[1]!, { resend: true }), as('partner-portal'))).status).toBe(202);
  });
});

describe('one mailbox is one person, however it is spelled', () => {
  it('reads full-width letters and a Unicode domain as the same person (NFKC, IDNA), and refuses invisible characters', async () => {
    const deps = await createTestDependencies();
    const first = await submit(deps, invitationFor('ann@fabrikam.com'));
    const fullWidth = await submit(deps, invitationFor('ａｎｎ@ｆａｂｒｉｋａｍ.com'));
    expect(fullWidth.json.items[0]).toMatchObject({ id: first.json.items[0].id, duplicate: true });

    const unicode = await submit(deps, invitationFor('jürgen@münchen.de'));
    const ascii = await submit(deps, invitationFor('jürgen@xn--mnchen-3ya.de'));
    expect(ascii.json.items[0]).toMatchObject({ id: unicode.json.items[0].id, duplicate: true });

    for (const invisible of ['ann\u00ADlee@fabrikam.com', 'ann\u200Blee@fabrikam.com', '\u202Eann@fabrikam.com']) {
      const response = await submit(deps, invitationFor(invisible));
      expect(response.status).toBe(400);
      expect(response.json.rejected[0].errors[0]).toEqual({
        path: 'invitedUserEmailAddress',
        message: expect.stringContaining('invisible'),
      });
    }
  });
});
