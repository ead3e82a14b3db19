import { afterEach, describe, expect, it } from 'vitest';
import { resendEmail } from '../../functions/resendEmail';
import { MAIL_READ_BASIC_ALL, MAIL_SEND, USER_INVITE_ALL } from '../../local/graphEmulator/graphEmulator';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationFor, invokeHttp, submit } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startPipeline } from '../support/pipeline';

/**
 * Our own email at most once, and never silently lost (shared/worker/emailStep.ts): a send whose
 * answer was lost is looked for in the sender's Sent Items by its Message-ID before anything is
 * sent again; without the permission to look it is Unknown, saying what to check, and an operator
 * resends it; a redemption link lost with Graph's answer is asked for again, with no Graph email.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const SENDER = 'invitations@contoso.com';
const JSON_CONTENT = { 'content-type': 'application/json' };
const MAIL_SETTINGS = { INVITE_DELIVERY: 'mail', INVITE_SENDER: SENDER, INVITE_BRAND_NAME: 'Contoso' };

async function mailPipeline(roles: string[], faults: Record<string, unknown> = {}) {
  const pipeline = await startPipeline(cleanup, { roles, faults }, MAIL_SETTINGS);
  pipeline.tenant.emulator.directory.mailboxes.add(SENDER);
  return pipeline;
}

const settled = async (deps: Awaited<ReturnType<typeof mailPipeline>>['deps'], id: string) =>
  waitFor(
    async () => {
      const record = (await deps.store.getById(id))?.record;
      return record?.emailStatus && !['Pending', 'Sending'].includes(record.emailStatus) ? record : undefined;
    },
    { timeoutMs: 20_000, what: 'the email settled' },
  );

describe('our own email', () => {
  it('is sent once when sendMail’s 202 is lost after Exchange accepted it: the Sent Items say it went out', async () => {
    const { deps, tenant } = await mailPipeline([USER_INVITE_ALL, MAIL_SEND, MAIL_READ_BASIC_ALL]);
    tenant.emulator.directory.loseSendMailAnswers = 1;
    const email = 'lost.answer@fabrikam.com';
    await submit(deps, invitationFor(email, { sendInvitationMessage: true }));
    const record = await settled(deps, recordIdForEmail(email));
    expect(record).toMatchObject({
      status: 'Invited',
      emailStatus: 'Sent',
      emailMessageId: expect.stringMatching(/^<invitation\.[0-9a-f]+@contoso\.com>$/),
    });
    const sent = tenant.emulator.directory.outbox.filter((mail) => mail.to.includes(email));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.internetMessageId).toBe(record.emailMessageId);
    expect(tenant.emulator.directory.sentItemsSearches).toBeGreaterThanOrEqual(1);
    expect(tenant.emulator.directory.loseSendMailAnswers).toBe(0); // the fault did happen
  });

  it('is Unknown, saying what to check, when the Sent Items cannot be read: never sent blindly again; an operator resends it', async () => {
    const { deps, tenant } = await mailPipeline([USER_INVITE_ALL, MAIL_SEND]);
    tenant.emulator.directory.loseSendMailAnswers = 1;
    const email = 'unknown.send@fabrikam.com';
    const id = recordIdForEmail(email);
    await submit(deps, invitationFor(email, { sendInvitationMessage: true }));
    const record = await settled(deps, id);
    expect(record.emailStatus).toBe('Unknown');
    expect(record.emailError).toContain(`Message-ID ${record.emailMessageId}`);
    expect(record.emailError).toContain('Mail.ReadBasic.All');
    expect(record.emailError).toContain('resend-email');
    expect(tenant.emulator.directory.outbox.filter((mail) => mail.to.includes(email))).toHaveLength(1);
    const results = await deps.batchReports.resultsCsv(record.batchId);
    expect(results).toContain('Unknown');

    // The operator looked: it is not there (say). The resend is a new email, with a Message-ID of its own.
    const resend = () =>
      invokeHttp(resendEmail, deps, { method: 'POST', path: `/api/invitations/${id}/resend-email`, params: { id }, headers: JSON_CONTENT });
    const resent = await resend();
    expect(resent.status).toBe(202);
    expect(resent.json).toMatchObject({ id, emailStatus: 'Pending', emailResends: 1 });
    const again = await settled(deps, id);
    expect(again.emailStatus).toBe('Sent');
    const sent = tenant.emulator.directory.outbox.filter((mail) => mail.to.includes(email));
    expect(sent).toHaveLength(2);
    expect(sent[1]!.internetMessageId).not.toBe(sent[0]!.internetMessageId);
    // Only an Unknown or Failed email is resent.
    const refused = await resend();
    expect(refused.status).toBe(409);
    expect(tenant.emulator.callsFor(email)).toHaveLength(1); // Graph was never asked to invite again
  });

  it('recovers a redemption link lost with Graph’s 201 (sendInvitationMessage: false: Graph sends nothing), and sends it once', async () => {
    const { deps, tenant } = await mailPipeline([USER_INVITE_ALL, MAIL_SEND, MAIL_READ_BASIC_ALL], { cutCreatedShare: 1 });
    const email = 'cut.link@fabrikam.com';
    await submit(deps, invitationFor(email, { sendInvitationMessage: true }));
    await waitFor(async () => (await deps.store.getById(recordIdForEmail(email)))?.record.status === 'Invited', { what: 'Invited' });
    tenant.emulator.configure({ faults: { cutCreatedShare: 0 } });
    const record = await settled(deps, recordIdForEmail(email));
    expect(record).toMatchObject({ emailStatus: 'Sent', linkRecoveredAt: expect.any(String), detailsMissing: true });
    const calls = tenant.emulator.callsFor(email);
    expect(calls.every((call) => call.sendInvitationMessage === false)).toBe(true);
    const sent = tenant.emulator.directory.outbox.filter((mail) => mail.to.includes(email));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain(record.inviteRedeemUrl!.slice(0, 40));
  });
});
