import { Conflict } from '../core';
import type { InvitationQueue, InvitationStore, RecordEntity } from '../storage';

/**
 * An operator's resend of our own invitation email (POST /api/invitations/{id}/resend-email, admin
 * key): only an email whose outcome is Unknown (an operator has checked the sender's Sent Items and
 * it is not there) or Failed. The resend is a new email with a Message-ID of its own (emailResends
 * counts them), sent by the follow-up as any email (emailStep.ts); Graph is not called to invite again.
 */

const RESENDABLE = new Set(['Unknown', 'Failed']);

export interface EmailResendQueued {
  id: string;
  emailStatus: 'Pending';
  emailResends: number;
}

export class EmailResend {
  constructor(
    private readonly store: InvitationStore,
    private readonly queue: InvitationQueue,
  ) {}

  async resend(id: string): Promise<EmailResendQueued> {
    for (;;) {
      const stored = await this.store.getNamed(id);
      const { record } = stored;
      if (record.status !== 'Invited' && record.status !== 'Accepted')
        throw new Conflict(`Invitation ${record.id} is ${record.status}: only an invited person's email is sent again.`);
      if (!RESENDABLE.has(record.emailStatus ?? ''))
        throw new Conflict(
          `The email of invitation ${record.id} is ${record.emailStatus ?? 'not the app’s own (INVITE_DELIVERY=graph)'}: only an Unknown or Failed email is sent again.`,
        );
      const emailResends = (record.emailResends ?? 0) + 1;
      const next: RecordEntity = {
        ...stored.entity,
        emailStatus: 'Pending',
        emailError: undefined,
        emailMessageId: undefined,
        emailResends,
        updatedAt: new Date().toISOString(),
      };
      if (!(await this.store.replace(next, stored.etag, { announce: false }))) continue; // changed meanwhile: decide again
      await this.queue.send({ id: record.id, batchId: record.batchId, queuedAt: record.queuedAt, followUpOnly: true });
      return { id: record.id, emailStatus: 'Pending', emailResends };
    }
  }
}
