import { afterEach, describe, expect, it } from 'vitest';
import { getBatch } from '../../functions/getBatch';
import { GROUP_MEMBER_READ_WRITE_ALL, MAIL_SEND, USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationFor, invokeHttp, submit, MESSAGE_POWERS } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startPipeline, waitForStatus } from '../support/pipeline';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const SENDER = 'invitations@contoso.com';
const MAIL_SETTINGS = {
  INVITE_DELIVERY: 'mail',
  INVITE_SENDER: SENDER,
  INVITE_BRAND_NAME: 'Contoso <Partners> & Co',
  INVITE_BRAND_LOGO_URL: 'https://contoso.com/logo.png',
  INVITE_BRAND_COLOR: '#8a2be2',
  // The tests below name a cc and write their own message: powers the operator grants (intake/invitationPolicy.ts).
  INVITE_ALLOW_CC: 'true',
  INVITE_ALLOW_CUSTOM_MESSAGE: 'true',
};
const CUSTOM_MESSAGE = 'Welcome to the <b>Northwind</b> project!\nYour contact is Ana.';

describe('the custom message warning', () => {
  it('warns in the 202 item and the results CSV that Graph will leave the message out, and not with INVITE_DELIVERY=mail', async () => {
    const { deps } = await startPipeline(cleanup, {}, MESSAGE_POWERS);
    const withMessage = (email: string) =>
      invitationFor(email, { sendInvitationMessage: true, invitedUserMessageInfo: { customizedMessageBody: 'Hello' } });
    const response = await submit(deps, {
      batchId: 'warned',
      invitations: [
        withMessage('msg@fabrikam.com'),
        invitationFor('plain@fabrikam.com'),
        { ...withMessage('quiet@fabrikam.com'), sendInvitationMessage: false },
      ],
    });
    expect(response.status).toBe(202);
    const [warned, plain, quiet] = response.json.items;
    expect(warned.warnings).toEqual([expect.stringMatching(/customizedMessageBody will not be in the email.*INVITE_DELIVERY=mail/)]);
    expect(plain.warnings).toBeUndefined();
    expect(quiet.warnings).toBeUndefined(); // no email at all: nothing to warn of
    await waitForStatus(deps, warned.id, 'Invited');
    const csv = await invokeHttp(getBatch, deps, { path: '/api/batches/warned?format=csv', params: { batchId: 'warned' } });
    const header = csv.text.split('\n')[0]!.split(',');
    const row = csv.text.split('\n').find((line) => line.includes('msg@fabrikam.com'))!;
    expect(header).toContain('warning');
    expect(row).toContain('will not be in the email');

    const mail = await startPipeline(cleanup, { roles: [USER_INVITE_ALL, MAIL_SEND] }, MAIL_SETTINGS);
    const own = await submit(mail.deps, withMessage('msg@fabrikam.com'));
    expect(own.json.items[0].warnings).toBeUndefined();
  });
});

describe('INVITE_DELIVERY=mail', () => {
  it('invites without Graph’s email and sends ours, to the invitee alone: the custom message, the branding and a working redemption URL, escaped, localised, none of it logged, and no cc sent the link', async () => {
    const { deps, tenant, logs } = await startPipeline(cleanup, { roles: [USER_INVITE_ALL, MAIL_SEND] }, MAIL_SETTINGS);
    tenant.emulator.directory.mailboxes.add(SENDER);
    const email = 'zoe@fabrikam.com';
    await submit(
      deps,
      invitationFor(email, {
        invitedUserDisplayName: 'Zoé <script>alert(1)</script>',
        sendInvitationMessage: true,
        invitedUserMessageInfo: {
          customizedMessageBody: CUSTOM_MESSAGE,
          messageLanguage: 'fr-CA',
          ccRecipients: [{ emailAddress: { address: 'manager@fabrikam.com', name: 'Manager' } }],
        },
      }),
    );
    const id = recordIdForEmail(email);
    const record = await waitFor(async () => {
      const stored = await deps.store.getById(id);
      return stored?.record.emailStatus === 'Sent' && stored.record;
    });
    expect(tenant.emulator.callsFor(email)).toEqual([expect.objectContaining({ status: 201, sendInvitationMessage: false })]);
    expect(tenant.emulator.directory.outbox).toHaveLength(1);
    const sent = tenant.emulator.directory.outbox[0]!;
    // The email holds the redemption link: a cc is never sent it (the intake warned of that).
    expect(sent).toMatchObject({ sender: SENDER, to: [email], cc: [], language: 'fr-FR' });
    expect(record.warning).toContain('ccRecipients will not be sent the email');
    expect(sent.subject).toBe('Contoso <Partners> & Co vous invite à collaborer');
    const html = sent.html!;
    expect(html).toContain('Welcome to the &#60;b&#62;Northwind&#60;/b&#62; project!<br>Your contact is Ana.');
    expect(html).toContain('Bonjour Zoé &#60;script&#62;alert(1)&#60;/script&#62;,');
    expect(html).not.toMatch(/<script|<b>Northwind/);
    expect(html).toContain('Contoso &#60;Partners&#62; &#38; Co');
    expect(html).toContain('src="https://contoso.com/logo.png"');
    expect(html).toContain('#8a2be2');
    expect(sent.text).toContain('> Your contact is Ana.');

    // The link in the email is the one Graph issued, and it works.
    const link = /<a href="([^"]+)"/.exec(html)![1]!.replace(/&#38;/g, '&');
    expect(link).toBe(record.inviteRedeemUrl);
    expect(tenant.emulator.redeemByUrl(link)).toMatchObject({ externalUserState: 'Accepted' });

    const logged = logs.text();
    expect(logged).toContain('our invitation email sent');
    for (const secret of [record.inviteRedeemUrl!, 'Northwind', 'Your contact is Ana', email]) expect(logged).not.toContain(secret);
  });

  it('sends reminders through the same channel: our email again, never Graph’s', async () => {
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, USER_READ_ALL, MAIL_SEND] },
      { ...MAIL_SETTINGS, REMINDER_AFTER: 'PT1S', REMINDER_MAX: '1' },
    );
    tenant.emulator.directory.mailboxes.add(SENDER);
    const email = 'slow@fabrikam.com';
    await submit(deps, invitationFor(email, { sendInvitationMessage: true }));
    const id = recordIdForEmail(email);
    await waitFor(async () => (await deps.store.getById(id))?.record.emailStatus === 'Sent');
    const reminded = await waitFor(
      async () => {
        await deps.redemptionTracker.run();
        const record = (await deps.store.getById(id))?.record;
        return record?.remindersSent === 1 && record.emailStatus === 'Sent' && record;
      },
      { what: 'the reminder, sent by us' },
    );
    expect(tenant.emulator.callsFor(email).map((call) => call.sendInvitationMessage)).toEqual([false, false]);
    expect(tenant.emulator.directory.outbox.map((mail) => mail.to)).toEqual([[email], [email]]);
    // The reminder carries the link of the reminder's own invitation.
    expect(tenant.emulator.directory.outbox[1]!.html).toContain(reminded.inviteRedeemUrl!.replace(/&/g, '&#38;'));
  });

  it('records a failed send as emailStatus Failed with its error, and never calls /invitations again', async () => {
    const { deps, tenant } = await startPipeline(cleanup, {}, MAIL_SETTINGS); // no Mail.Send
    const email = 'nomail@fabrikam.com';
    await submit(deps, invitationFor(email, { sendInvitationMessage: true }));
    const id = recordIdForEmail(email);
    const record = await waitFor(async () => {
      const stored = await deps.store.getById(id);
      return stored?.record.emailStatus === 'Failed' && stored.record;
    });
    expect(record).toMatchObject({ status: 'Invited', emailError: expect.stringContaining('Authorization_RequestDenied') });
    expect(tenant.emulator.callsFor(email)).toHaveLength(1);
    expect(tenant.emulator.directory.outbox).toEqual([]);
  });
});

describe('access on arrival: groups', () => {
  it('adds the guest through replication lag, counts "already a member" as success, and fails an unknown group alone', async () => {
    const [engineering, partners, unknown] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, GROUP_MEMBER_READ_WRITE_ALL] },
      { INVITE_ALLOWED_GROUPS: [engineering, partners, unknown].join(',') },
    );
    const directory = tenant.emulator.directory;
    directory.groups.set(engineering, new Set());
    const existing = directory.add({ mail: 'known@fabrikam.com', userType: 'Guest' });
    directory.groups.set(partners, new Set([existing.id]));
    directory.replicationLagMs = 1_500; // a new guest is unknown to the groups service for 1.5 s

    const response = await submit(deps, {
      batchId: 'grouped',
      invitations: [
        invitationFor('new@fabrikam.com', { groups: [engineering, unknown] }),
        invitationFor('known@fabrikam.com', { groups: [partners] }),
      ],
    });
    expect(response.status).toBe(202);
    const isDone = async (email: string) => {
      const record = (await deps.store.getById(recordIdForEmail(email)))?.record;
      return record?.groups?.every((group) => group.status !== 'Pending') && record;
    };
    const fresh = await waitFor(() => isDone('new@fabrikam.com'), { what: 'the new guest’s groups' });
    const known = await waitFor(() => isDone('known@fabrikam.com'), { what: 'the known guest’s groups' });
    expect(fresh.groups).toEqual([
      { id: engineering, status: 'Added' },
      { id: unknown, status: 'Failed', error: expect.stringContaining('no such group') },
    ]);
    expect(known.groups).toEqual([{ id: partners, status: 'AlreadyMember' }]);
    expect(directory.groups.get(engineering)).toEqual(new Set([fresh.invitedUserId]));
    // One invitation each, whatever happened to the groups.
    expect(tenant.emulator.callsFor('new@fabrikam.com')).toHaveLength(1);
    expect(tenant.emulator.callsFor('known@fabrikam.com')).toHaveLength(1);

    const csv = await invokeHttp(getBatch, deps, { path: '/api/batches/grouped?format=csv', params: { batchId: 'grouped' } });
    expect(csv.text).toContain(`${engineering}:Added; ${unknown}:Failed (no such group`);
  });

  it('refuses more than 20 groups, a group named twice and one that is no GUID, with a 400 naming groups', async () => {
    const guids = Array.from({ length: 21 }, () => crypto.randomUUID());
    const { deps } = await startPipeline(cleanup, {}, { INVITE_ALLOWED_GROUPS: guids.join(',') });
    for (const groups of [guids, [guids[0], guids[0]], ['engineering']]) {
      const response = await submit(deps, invitationFor('g@fabrikam.com', { groups }));
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.json)).toContain('groups');
    }
  });
});

describe('group adds and the write budget', () => {
  it('take turns from the same budget as invitations and wait for Graph’s Retry-After: every add done, every person invited once', async () => {
    const groups = [crypto.randomUUID(), crypto.randomUUID()];
    // 8 writes per 2 s for invitations and group adds together, while the app believes in 20/s.
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, GROUP_MEMBER_READ_WRITE_ALL], writeBudget: { limit: 8, windowMs: 2_000 } },
      { INVITE_ALLOWED_GROUPS: groups.join(',') },
    );
    for (const group of groups) tenant.emulator.directory.groups.set(group, new Set());
    const emails = Array.from({ length: 8 }, (_, i) => `budget${i}@fabrikam.com`);
    await submit(deps, { invitations: emails.map((email) => invitationFor(email, { groups })) });
    for (const email of emails) {
      const record = await waitFor(
        async () => {
          const found = (await deps.store.getById(recordIdForEmail(email)))?.record;
          return found?.groups?.every((group) => group.status !== 'Pending') && found;
        },
        { timeoutMs: 40_000, what: `${email}'s groups` },
      );
      expect(record.groups).toEqual(groups.map((id) => ({ id, status: 'Added' })));
      expect(tenant.emulator.callsFor(email).filter((call) => call.status === 201)).toHaveLength(1);
    }
    expect(tenant.emulator.directoryWrites).toBe(16);
    console.log(
      `[fault figures] group adds under a shared budget: ${tenant.emulator.directoryWritesThrottled} of ${tenant.emulator.directoryWrites + tenant.emulator.directoryWritesThrottled} group adds answered 429`,
    );
    // Each add met a 429 at most about once (11 of 27 measured); hammering without the budget and Retry-After drew over 1,000.
    expect(tenant.emulator.directoryWritesThrottled).toBeLessThanOrEqual(16);
  }, 60_000);
});

describe('the sending mailbox’s limits', () => {
  const sendAll = async (deps: Awaited<ReturnType<typeof startPipeline>>['deps'], emails: string[]) => {
    await submit(deps, { invitations: emails.map((email) => invitationFor(email, { sendInvitationMessage: true })) });
    for (const email of emails) await waitForStatus(deps, recordIdForEmail(email), 'Invited');
  };
  const emailStatuses = async (deps: Awaited<ReturnType<typeof startPipeline>>['deps'], emails: string[]) =>
    Promise.all(emails.map(async (email) => (await deps.store.getById(recordIdForEmail(email)))?.record.emailStatus));

  it('sends at most MAIL_MAX_PER_MINUTE a minute for the mailbox: the rest wait, Pending, and Exchange never has to refuse one', async () => {
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, MAIL_SEND] },
      { ...MAIL_SETTINGS, MAIL_MAX_PER_MINUTE: '4' },
    );
    tenant.emulator.directory.mailboxes.add(SENDER);
    tenant.emulator.directory.mailboxPerMinute = 4;
    const emails = Array.from({ length: 7 }, (_, i) => `paced${i}@fabrikam.com`);
    await sendAll(deps, emails);
    await waitFor(async () => (await emailStatuses(deps, emails)).filter((status) => status === 'Sent').length === 4, {
      what: '4 emails sent',
    });
    // Looked at again and again within the minute, the other three stay Pending.
    await waitFor(
      async () =>
        tenant.emulator.directory.outbox.length === 4 && (await emailStatuses(deps, emails)).filter((s) => s === 'Pending').length === 3,
    );
    expect((await emailStatuses(deps, emails)).filter((status) => status === 'Failed')).toEqual([]);
    expect(tenant.emulator.directory.mailboxThrottled).toBe(0);
  });

  it('hands a waiting email back as follow-up only: its redelivery does not tell the caller of the person again', async () => {
    const { deps } = await startPipeline(
      cleanup,
      {},
      { NOTIFY_URL: 'https://hr.contoso.com/hooks', NOTIFY_HMAC_SECRET: 'mailbox-events-secret-0123456789abcdef' },
    );
    await submit(deps, invitationFor('told-once@fabrikam.com'));
    const id = recordIdForEmail('told-once@fabrikam.com');
    await waitForStatus(deps, id, 'Invited');
    const events = async () => (await deps.events.queue.getProperties()).approximateMessagesCount ?? 0;
    await waitFor(async () => (await events()) === 1, { what: 'the Invited event' });
    const worker = deps.worker;
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    // A message handed back for its email: the record is final, and nothing is announced again.
    await worker.process({ id, batchId: 'b', queuedAt: new Date().toISOString(), followUpOnly: true }, 'handed-back', log);
    expect(await events()).toBe(1);
    // A redelivered message of unknown history reconfirms (the worker that wrote it may have died first).
    await worker.process({ id, batchId: 'b', queuedAt: new Date().toISOString() }, 'redelivered', log);
    expect(await events()).toBe(2);
  });

  it('keeps emails Pending past the day’s recipients (MAIL_MAX_RECIPIENTS_PER_DAY), never Failed', async () => {
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, MAIL_SEND] },
      { ...MAIL_SETTINGS, MAIL_MAX_RECIPIENTS_PER_DAY: '3' },
    );
    tenant.emulator.directory.mailboxes.add(SENDER);
    const emails = Array.from({ length: 5 }, (_, i) => `daily${i}@fabrikam.com`);
    await sendAll(deps, emails);
    await waitFor(async () => (await emailStatuses(deps, emails)).filter((status) => status === 'Sent').length === 3, {
      what: '3 emails sent',
    });
    const statuses = await emailStatuses(deps, emails);
    expect(statuses.filter((status) => status === 'Pending')).toHaveLength(2);
    expect(tenant.emulator.directory.outbox).toHaveLength(3);
    expect(tenant.emulator.directory.mailboxThrottled).toBe(0);
  });

  it('keeps emails Pending when Exchange throttles the mailbox anyway (another app sends from it), never Failed', async () => {
    const { deps, tenant } = await startPipeline(cleanup, { roles: [USER_INVITE_ALL, MAIL_SEND] }, MAIL_SETTINGS);
    tenant.emulator.directory.mailboxes.add(SENDER);
    tenant.emulator.directory.mailboxPerMinute = 2; // Exchange is stricter than the app believes
    const emails = Array.from({ length: 4 }, (_, i) => `throttled${i}@fabrikam.com`);
    await sendAll(deps, emails);
    await waitFor(async () => tenant.emulator.directory.mailboxThrottled >= 2, { what: 'Exchange to throttle the mailbox' });
    const statuses = await emailStatuses(deps, emails);
    expect(statuses.filter((status) => status === 'Sent')).toHaveLength(2);
    expect(statuses.filter((status) => status === 'Failed')).toEqual([]);
  });
});
