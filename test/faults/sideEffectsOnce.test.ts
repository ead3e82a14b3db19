import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../../local/azurite';
import { MAIL_READ_BASIC_ALL, MAIL_SEND, USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import { createAppDependencies, DEFAULT_RESOURCE_NAMES, type AppDependencies } from '../../shared/appDependencies';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationEventSchema } from '../../shared/lifecycle/invitationEvents';
import { loadSettings } from '../../shared/settings';
import { waitFor } from '../support/graphEmulator';
import { startEventReceiver } from '../support/eventReceiver';
import { killHostMidBatch } from '../support/killScenario';
import { expectNoSecretsIn } from '../support/secretScan';

/**
 * Every side effect once, through a crash (docs/reliability.md): the local host SIGKILLed while it
 * invites and mails 150 people with INVITE_DELIVERY=mail and a NOTIFY_URL receiver, then started
 * again. Every person ends Invited; Graph is never asked to send its own email; each person gets
 * exactly one email from us (the lost links recovered, the sends cut by the kill looked for in the
 * Sent Items); the receiver hears every person's Invited, with one id per change.
 */

const SENDER = 'invitations@contoso.com';
const NOTIFY_SECRET = 'once-events-secret-0123456789abcdefghij';

describe('side effects through a SIGKILL of the host', () => {
  let azurite: RunningAzurite;
  let deps: AppDependencies;
  beforeAll(async () => {
    azurite = await startAzurite();
    deps = await createAppDependencies(loadSettings({ AzureWebJobsStorage: azurite.connectionString }), DEFAULT_RESOURCE_NAMES);
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('150 people with mail delivery: every one Invited, no Graph email, exactly one email each, and every Invited heard', async () => {
    const receiver = await startEventReceiver();
    let figures = '';
    try {
      const result = await killHostMidBatch({
        azurite,
        deps,
        people: 150,
        batchId: 'once-kill',
        roles: [USER_INVITE_ALL, USER_READ_ALL, MAIL_SEND, MAIL_READ_BASIC_ALL],
        env: {
          INVITE_DELIVERY: 'mail',
          INVITE_SENDER: SENDER,
          INVITE_BRAND_NAME: 'Contoso',
          // A mailbox allowed more than Exchange's 30 a minute: the scenario is the crash, not the mailbox's pace.
          MAIL_MAX_PER_MINUTE: '1000',
          NOTIFY_URL: receiver.url,
          NOTIFY_HMAC_SECRET: NOTIFY_SECRET,
        },
        item: { sendInvitationMessage: true },
        prepare: (tenant) => tenant.emulator.directory.mailboxes.add(SENDER),
        afterAllInvited: async (tenant, emails) => {
          const ids = emails.map((email) => recordIdForEmail(email));
          const records = await waitFor(
            async () => {
              const all = await Promise.all(ids.map(async (id) => (await deps.store.getById(id))?.record));
              return all.every((record) => record?.emailStatus === 'Sent') ? all.map((record) => record!) : undefined;
            },
            { timeoutMs: 120_000, what: 'every email sent' },
          );
          const outbox = tenant.emulator.directory.outbox;
          expect(emails.filter((email) => outbox.filter((mail) => mail.to.includes(email)).length !== 1)).toEqual([]);
          expect(tenant.emulator.calls.filter((call) => call.sendInvitationMessage === true)).toEqual([]);
          const heard = await waitFor(
            async () => {
              const events = receiver.received.map((event) => invitationEventSchema.parse(JSON.parse(event.body)));
              const invited = events.filter((event) => event.data.status === 'Invited');
              return new Set(invited.map((event) => event.data.email)).size === emails.length ? invited : undefined;
            },
            { timeoutMs: 120_000, what: 'every person’s Invited heard' },
          );
          // A change heard twice (a redelivery) has the same id: one id per person's Invited.
          for (const email of emails)
            expect(new Set(heard.filter((event) => event.data.email === email).map((event) => event.id)).size).toBe(1);
          const recovered = records.filter((record) => record.linkRecoveredAt).length;
          figures = `${recovered} link(s) recovered, ${tenant.emulator.directory.sentItemsSearches} Sent Items search(es), ${heard.length} Invited event deliveries for ${emails.length} people`;
        },
      });
      console.info(
        `[fault figures] SIGKILL mid-batch with mail delivery: 150/150 Invited, ${result.inFlight} in flight at the kill, ${figures}.`,
      );
      expectNoSecretsIn(result.output, { secrets: [result.clientSecret, NOTIFY_SECRET], emails: result.emails });
    } finally {
      await receiver.stop();
    }
  }, 300_000);
});
