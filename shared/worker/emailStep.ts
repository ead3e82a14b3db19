import pRetry, { AbortError } from 'p-retry';
import { toGraphInvitationRequest, type InvitationRecord } from '../core';
import {
  GraphCallError,
  type GraphDirectoryClient,
  type GraphInvitationsClient,
  type GraphPacer,
  mayHaveActed,
  pacedWrite,
  WaitBeyondDeadlineError,
} from '../graph';
import { invitationMessageId, renderInvitationEmail, toMimeMessage, type Branding, type MailboxBudget } from '../mail';
import type { StoredRecord } from '../storage';
import { isSignInFailure, StepWaits } from './followUpStep';

/**
 * Our own invitation email (INVITE_DELIVERY=mail), at most once per email, and never silently lost:
 * - every email has one Message-ID (invitationMessageId), the same for every try of it;
 * - `Sending` is recorded just before sendMail; a send whose outcome is unknown (a crash after
 *   that, a connection dropped after Exchange may have accepted it) is looked for in the sender's
 *   Sent Items before anything else: there, it is Sent; not there, it is sent (with the same
 *   Message-ID); not checkable (no Mail.ReadBasic.All), it is `Unknown`, with what to check, and an
 *   operator resends it (POST /api/invitations/{id}/resend-email): never a blind second email;
 * - Graph's answer lost (the person was found by lookup, no link): a new redemption link is asked
 *   for (`POST /invitations` for the same guest with sendInvitationMessage: false: Graph sends
 *   nothing), recorded as a link recovery.
 */

export type EmailOutcome = Pick<
  InvitationRecord,
  'emailStatus' | 'emailSentAt' | 'emailError' | 'emailMessageId' | 'inviteRedeemUrl' | 'linkRecoveredAt'
>;

export interface EmailStepOptions {
  /** INVITE_SENDER. */
  sender: string;
  branding: Branding;
  mailbox?: Pick<MailboxBudget, 'send'>;
  /** The write budget: a link recovery is an invitation call. */
  pacer?: Pick<GraphPacer, 'acquire' | 'throttled' | 'accepted'>;
  /** Graph's invitations, for a link recovery (none: a lost link fails the email, as before). */
  invitations?: Pick<GraphInvitationsClient, 'createInvitation'>;
}

// Sends whose answer says they did not go out (5xx before Exchange acted) are tried this often.
const SEND_RETRIES = 3;
const LINK_RECOVERY_TIMEOUT_MS = 30_000;

export class EmailStep {
  constructor(
    private readonly directory: Pick<GraphDirectoryClient, 'sendMimeMail' | 'hasSentMessage'>,
    /** Writes onto the person's record as it is now; false when a new attempt owns it (then nothing is sent). */
    private readonly record: (id: string, fields: EmailOutcome) => Promise<boolean>,
    private readonly options: EmailStepOptions,
  ) {}

  /** The email's outcome; throws StepWaits when it cannot go now (a budget, the mailbox, the app's sign-in). */
  async send(stored: StoredRecord): Promise<EmailOutcome> {
    const { record } = stored;
    const link = record.inviteRedeemUrl ? { inviteRedeemUrl: record.inviteRedeemUrl } : await this.recoverLink(stored);
    if ('failure' in link) return { emailStatus: 'Failed', emailError: link.failure };
    const messageId = record.emailMessageId ?? this.messageIdOf(record);
    const recovered = record.inviteRedeemUrl ? {} : { ...link, linkRecoveredAt: new Date().toISOString() };
    const mime = toMimeMessage(renderInvitationEmail(stored.invitation, link.inviteRedeemUrl!, this.options.branding), messageId);
    const sentNow = (): EmailOutcome => ({ ...recovered, emailStatus: 'Sent', emailSentAt: new Date().toISOString() });
    // Why it may have gone out already: an earlier send left Sending (a crash), or a send here ended unknown.
    let mayHaveGoneOut: string | undefined = record.emailStatus === 'Sending' ? 'an earlier send that was interrupted' : undefined;
    for (let sends = 0; ; sends += 1) {
      if (mayHaveGoneOut !== undefined) {
        // Looked for before anything is sent again.
        const found = await this.lookInSentItems(messageId);
        if (found === 'sent') return sentNow();
        if (found !== 'not-sent' || sends > SEND_RETRIES)
          return {
            ...recovered,
            emailStatus: 'Unknown',
            emailError: unknownSentence(messageId, this.options.sender, found === 'not-sent' ? mayHaveGoneOut : found),
          };
      }
      const sent = await this.sendOnce(record.id, mime, { ...recovered, emailMessageId: messageId });
      if (sent === 'sent') return sentNow();
      if (sent === 'superseded') return { ...recovered, emailMessageId: messageId };
      if ('failure' in sent) return { ...recovered, emailStatus: 'Failed', emailError: sent.failure };
      mayHaveGoneOut = sent.unknown;
    }
  }

  /** This email's Message-ID: the person, the attempt that made it due, and the operator's resends. */
  private messageIdOf(record: InvitationRecord): string {
    const attempt = [record.invitedAt, record.lastRemindedAt, record.redemptionResetAt].filter(Boolean).sort().at(-1) ?? record.queuedAt;
    return invitationMessageId(record.id, attempt, record.emailResends ?? 0, this.options.sender);
  }

  /**
   * One sendMail in the mailbox's turn, `Sending` recorded just before it. `unknown` when it may
   * have gone out (the connection failed after the request was sent, or a gateway answered).
   */
  private async sendOnce(
    id: string,
    mime: string,
    before: EmailOutcome,
  ): Promise<'sent' | 'superseded' | { failure: string } | { unknown: string }> {
    const sender = this.options.sender;
    let superseded = false;
    const send = async () => {
      // Recorded before: a crash from here on leaves Sending, which is looked for, never sent blindly again.
      if (!(await this.record(id, { ...before, emailStatus: 'Sending' }))) {
        superseded = true;
        return;
      }
      await this.directory.sendMimeMail(sender, mime);
    };
    try {
      await pRetry(
        async () => {
          try {
            // Within the mailbox's limits (mailboxBudget.ts): no room this minute or day is a wait, never a failure.
            const turn = this.options.mailbox ? await this.options.mailbox.send(sender, 1, send) : (await send(), { ok: true as const });
            if (!turn.ok) throw new AbortError(new StepWaits(turn.retryAt - Date.now(), turn.why));
          } catch (error) {
            if (!(error instanceof GraphCallError)) throw error;
            // It may have gone out: never retried here (the Sent Items are looked at first).
            if (mayHaveActed(error)) throw new AbortError(error);
            // A refusal (no Mail.Send, an unknown mailbox, a bad message) is the same next time; so is the app's sign-in.
            if (error.kind === 'permanent' || error.kind === 'credential' || isSignInFailure(error)) throw new AbortError(error);
            // Exchange throttled the mailbox anyway (another app sends from it too): wait for it.
            if (error.kind === 'throttled')
              throw new AbortError(new StepWaits(error.retryAfterMs ?? 60_000, 'the mailbox, which Exchange throttled'));
            throw error; // refused before acting (503): tried again
          }
        },
        { retries: SEND_RETRIES, minTimeout: 500, maxTimeout: 5_000 },
      );
      return superseded ? 'superseded' : 'sent';
    } catch (error) {
      if (error instanceof GraphCallError && mayHaveActed(error))
        return { unknown: `${error.code}${error.httpStatus ? ` ${error.httpStatus}` : ''}` };
      // It did not go out: Pending again, so that the next try sends it rather than looking for it.
      await this.record(id, { ...before, emailStatus: 'Pending' });
      if (error instanceof StepWaits) throw error;
      if (isSignInFailure(error)) throw error;
      const reason = error instanceof GraphCallError ? `${error.code}: ${error.message}` : String(error);
      return { failure: reason.slice(0, 1_000) };
    }
  }

  /** Whether the sender's Sent Items hold the message; why not, when they cannot be read. A transient failure waits. */
  private async lookInSentItems(messageId: string): Promise<'sent' | 'not-sent' | { unreadable: string }> {
    try {
      return (await this.directory.hasSentMessage(this.options.sender, messageId)) ? 'sent' : 'not-sent';
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      if (isSignInFailure(error)) throw error;
      if (error.httpStatus === 403 || error.kind === 'credential' || error.kind === 'permanent')
        return {
          unreadable: `the app may not read ${this.options.sender}'s Sent Items (${error.code}): grant Mail.ReadBasic.All, scoped to that mailbox`,
        };
      throw new StepWaits(error.retryAfterMs ?? 5_000, "the sender's Sent Items, which could not be read just now");
    }
  }

  /**
   * A new redemption link for the guest Graph's lost answer created: `POST /invitations` again for
   * the same address with sendInvitationMessage: false (Graph sends nothing, and answers with the
   * same user and a new link), in the write budget. Only a link for the person's own user is used.
   */
  private async recoverLink(stored: StoredRecord): Promise<{ inviteRedeemUrl: string } | { failure: string }> {
    const noLink =
      'NoRedemptionUrl: Graph created the invitation but its answer was lost, so there is no link to send (submit again with resend: true).';
    if (!this.options.invitations) return { failure: noLink };
    const userId = stored.record.ownedUserId ?? stored.record.invitedUserId;
    const request = { ...toGraphInvitationRequest(stored.invitation), sendInvitationMessage: false };
    try {
      const created = await pacedWrite(this.options.pacer, Date.now() + LINK_RECOVERY_TIMEOUT_MS, () =>
        this.options.invitations!.createInvitation(request, LINK_RECOVERY_TIMEOUT_MS),
      );
      if (!created.inviteRedeemUrl || (userId !== undefined && created.invitedUserId !== userId))
        return {
          failure: `LinkNotRecovered: Graph answered for another user than the person's guest (${created.invitedUserId ?? 'none'}).`,
        };
      return { inviteRedeemUrl: created.inviteRedeemUrl };
    } catch (error) {
      if (error instanceof WaitBeyondDeadlineError) throw new StepWaits(0, 'the write budget');
      if (!(error instanceof GraphCallError)) throw error;
      if (isSignInFailure(error)) throw error;
      if (error.kind === 'throttled' || error.kind === 'transient')
        throw new StepWaits(error.retryAfterMs ?? 5_000, 'a new redemption link');
      return { failure: `LinkNotRecovered: ${error.code}: ${error.message}`.slice(0, 1_000) };
    }
  }
}

function unknownSentence(messageId: string, sender: string, why: string | { unreadable: string }): string {
  const reason = typeof why === 'string' ? `the send ended in ${why}, after it may have gone out` : why.unreadable;
  return `Unknown: the email may or may not have been sent (${reason}). Look in ${sender}'s Sent Items for Message-ID ${messageId}; if it is not there, send it again with POST /api/invitations/{id}/resend-email (admin key).`;
}
