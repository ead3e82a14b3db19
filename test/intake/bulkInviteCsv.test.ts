import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { clearQueue, createTestDependencies, queueLength, submit } from '../support/harness';

const PORTAL_HEADINGS =
  'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,' +
  'Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody]';

const CSV_GROUPS = [crypto.randomUUID(), crypto.randomUUID()];

let deps: AppDependencies;
beforeAll(async () => {
  // The portal's columns carry a message, a cc and the Member type: an operator who granted them (intake/invitationPolicy.ts).
  deps = await createTestDependencies({
    INVITE_ALLOW_MEMBER_TYPE: 'true',
    INVITE_ALLOW_CC: 'true',
    INVITE_ALLOW_CUSTOM_MESSAGE: 'true',
    INVITE_ALLOWED_GROUPS: CSV_GROUPS.join(','),
  });
});
beforeEach(async () => {
  await clearQueue(deps);
});

const submitCsv = (csv: string) => submit(deps, csv, { contentType: 'text/csv' });

describe("POST /api/invitations with the Entra admin center's bulk-invite CSV", () => {
  it('accepts the file exactly as the portal template produces it', async () => {
    const csv = readFileSync(path.join(__dirname, '..', 'fixtures', 'portal-bulk-invite.csv'), 'utf8');
    const response = await submitCsv(csv);
    expect(response.status).toBe(202);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual(['nora@fabrikam.com', 'oscar@fabrikam.com']);
    const nora = await deps.store.getById(response.json.items[0].id);
    expect(nora?.invitation).toMatchObject({
      sendInvitationMessage: true,
      inviteRedirectUrl: 'https://myapps.microsoft.com',
      invitedUserMessageInfo: { customizedMessageBody: 'Welcome to the Contoso partner portal' },
    });
    const oscar = await deps.store.getById(response.json.items[1].id);
    expect(oscar?.invitation.sendInvitationMessage).toBe(false);
    expect(await queueLength(deps)).toBe(2);
  });

  it('parses quoted fields with commas and newlines, which the portal cannot', async () => {
    const csv = [
      'version:v1.0',
      PORTAL_HEADINGS,
      'pia@fabrikam.com,https://myapps.microsoft.com,true,"Hello Pia,\nwelcome to ""Contoso"", see you soon"',
      'quinn@fabrikam.com,https://myapps.microsoft.com,false,plain',
    ].join('\n');
    const response = await submitCsv(csv);
    expect(response.status).toBe(202);
    const pia = await deps.store.getById(response.json.items[0].id);
    expect(pia?.invitation.invitedUserMessageInfo?.customizedMessageBody).toBe('Hello Pia,\nwelcome to "Contoso", see you soon');
    expect(response.json.items[1].email).toBe('quinn@fabrikam.com');
  });

  it('matches columns by their bracketed name in any order, ignores unknown ones and reads our extra columns', async () => {
    const csv = [
      'version:v1.0',
      'Notes [notes],Redirection url [inviteRedirectURL] Required,Name [inviteeName],Email address to invite [INVITEEEMAIL] Required,' +
        'Type [invitedUserType],Language [messageLanguage],Cc [ccRecipient],Key [externalId],Again [resend]',
      'anything,https://myapps.microsoft.com,Rae Lin,rae@fabrikam.com,Member,de-DE,boss@fabrikam.com,HR-42,false',
    ].join('\n');
    const response = await submitCsv(csv);
    expect(response.status).toBe(202);
    const rae = await deps.store.getById(response.json.items[0].id);
    expect(rae?.invitation).toMatchObject({
      invitedUserEmailAddress: 'rae@fabrikam.com',
      invitedUserDisplayName: 'Rae Lin',
      invitedUserType: 'Member',
      externalId: 'HR-42',
      resend: false,
      invitedUserMessageInfo: { messageLanguage: 'de-DE', ccRecipients: [{ emailAddress: { address: 'boss@fabrikam.com' } }] },
    });
  });

  it('reads [groups] and [sponsors] as ;-separated ids, and rejects a sixth sponsor by name', async () => {
    const [g1, g2] = CSV_GROUPS;
    const sponsors = Array.from({ length: 6 }, () => crypto.randomUUID());
    const csv = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Groups [groups],Sponsors [sponsors]',
      `ida@fabrikam.com,https://myapps.microsoft.com,${g1}; ${g2},${sponsors.slice(0, 2).join(';')}`,
      `ivo@fabrikam.com,https://myapps.microsoft.com,,${sponsors.join(';')}`,
    ].join('\n');
    const response = await submitCsv(csv);
    expect(response.status).toBe(202);
    const ida = await deps.store.getById(response.json.items[0].id);
    expect(ida?.invitation).toMatchObject({ groups: [g1, g2], invitedUserSponsors: [{ id: sponsors[0] }, { id: sponsors[1] }] });
    expect(response.json.rejected).toEqual([
      expect.objectContaining({ line: 4, errors: [expect.objectContaining({ path: expect.stringContaining('invitedUserSponsors') })] }),
    ]);
  });

  it('rejects bad rows by index and file line, queuing the good ones, and skips blank spreadsheet rows', async () => {
    const csv = [
      'version:v1.0,,,',
      PORTAL_HEADINGS,
      'sam@fabrikam.com,https://myapps.microsoft.com,true,"two\nlines"',
      ',,,',
      'tess#@fabrikam.com,https://myapps.microsoft.com,false,',
      'uma@fabrikam.com,https://myapps.microsoft.com,maybe,',
    ].join('\r\n');
    const response = await submitCsv(csv);
    expect(response.status).toBe(202);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual(['sam@fabrikam.com']);
    expect(response.json.rejected).toEqual([
      { index: 1, line: 6, errors: [{ path: 'invitedUserEmailAddress', message: expect.stringContaining("'#'") }] },
      { index: 2, line: 7, errors: [{ path: 'sendInvitationMessage', message: expect.any(String) }] },
    ]);
    expect(await queueLength(deps)).toBe(1);
  });

  it.each([
    ['no version line', `${PORTAL_HEADINGS}\nvic@fabrikam.com,https://myapps.microsoft.com,,`, 'version:v1.0'],
    ['no email column', 'version:v1.0\nRedirection url [inviteRedirectURL] Required\nhttps://myapps.microsoft.com', '[inviteeEmail]'],
    ['an unterminated quote', `version:v1.0\n${PORTAL_HEADINGS}\nwes@fabrikam.com,https://myapps.microsoft.com,true,"oops`, 'malformed'],
    ['an empty file', '', 'version:v1.0'],
  ])('answers 400 problem for %s, queuing nothing', async (_, csv, detail) => {
    const response = await submitCsv(csv);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.json.detail).toContain(detail);
    expect(await queueLength(deps)).toBe(0);
  });
});
