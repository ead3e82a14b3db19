import pRetry, { AbortError } from 'p-retry';
import { GraphCallError } from '../graph/graphCallError';
import type { GraphDirectoryClient } from '../graph/graphDirectoryClient';
import { maskEmailAddress } from '../intake/emailAddress';
import type { GroupOutcome, InvitationOutcome, InvitationRecord } from '../invitationRecord';
import { renderInvitationEmail, toMimeMessage, type Branding } from '../mail/invitationEmail';
import type { InvitationStore, StoredRecord } from '../storage/invitationStore';
import { groupsColumns, type RecordEntity } from '../storage/recordEntity';
import type { WorkerLog } from './invitationWorker';

/**
 * What an invitation still needs once Graph has created it, each never a reason to call
 * /invitations again:
 * - our own email (INVITE_DELIVERY=mail), from INVITE_SENDER through Graph's sendMail, recorded
 *   as `emailStatus` (Pending, Sent, Failed with `emailError`);
 * - the groups the item names (`POST /groups/{id}/members/$ref`), each recorded with its outcome.
 * They are marked Pending in the same write as Invited, so a crash before they are done is
 * finished by the message's redelivery (the worker calls `complete` on a final record too).
 */

export interface FollowUpOptions {
  delivery: 'graph' | 'mail';
  /** INVITE_SENDER: the mailbox our emails come from. */
  sender?: string;
  branding: Branding;
  /**
   * How long a user Graph has just created may be unknown to the groups service (directory
   * replication) before a group add counts as failed. @default 60_000
   */
  replicationWaitMs?: number;
}

const ALREADY_MEMBER = /added object references already exist/i;
const EMAIL_RETRIES = 3;

export class InvitationFollowUp {
  constructor(
    private readonly store: InvitationStore,
    private readonly directory: Pick<GraphDirectoryClient, 'sendMimeMail' | 'addGroupMember'>,
    private readonly options: FollowUpOptions,
  ) {}

  /** Whether this attempt's request asks Graph for its own email: never when we send ours. */
  graphSendsEmail(wanted: boolean): boolean {
    return this.options.delivery === 'graph' && wanted;
  }

  /** What the Invited write marks as still to do. A reminder's groups were done the first time. */
  pendingWork(stored: StoredRecord, { emailWanted, reminder }: { emailWanted: boolean; reminder: boolean }): InvitationOutcome {
    const email = this.options.delivery === 'mail' && emailWanted ? { emailStatus: 'Pending' as const } : {};
    const groups =
      !reminder && stored.invitation.groups ? { groups: stored.invitation.groups.map((id) => ({ id, status: 'Pending' as const })) } : {};
    return { ...email, ...groups };
  }

  static hasPendingWork(record: InvitationRecord): boolean {
    return (
      record.status === 'Invited' && (record.emailStatus === 'Pending' || (record.groups ?? []).some((group) => group.status === 'Pending'))
    );
  }

  /** Does what is pending for the person, and records each outcome. */
  async complete(id: string, log: WorkerLog): Promise<void> {
    const stored = await this.store.getById(id);
    if (!stored || !InvitationFollowUp.hasPendingWork(stored.record)) return;
    const who = `Invitation ${id} (${maskEmailAddress(stored.record.email)})`;
    const email = stored.record.emailStatus === 'Pending' ? await this.sendEmail(stored) : undefined;
    if (email) {
      if (email.emailStatus === 'Sent') log.info(`${who}: our invitation email sent.`);
      else log.warn(`${who}: our invitation email failed (${email.emailError}); Graph is not called again.`);
    }
    const groups = await Promise.all(
      (stored.record.groups ?? []).map((group) => (group.status === 'Pending' ? this.addToGroup(group.id, stored) : group)),
    );
    for (const group of groups.filter((outcome) => outcome.status === 'Failed'))
      log.warn(`${who}: not added to group ${group.id} (${group.error}).`);
    await this.write(id, { ...(email ?? {}), ...(stored.record.groups ? { groups } : {}) });
  }

  private async sendEmail(stored: StoredRecord): Promise<Pick<RecordEntity, 'emailStatus' | 'emailSentAt' | 'emailError'>> {
    const redeemUrl = stored.record.inviteRedeemUrl;
    if (!redeemUrl) {
      return {
        emailStatus: 'Failed',
        emailError:
          'NoRedemptionUrl: Graph created the invitation but its answer was lost, so there is no link to send (submit again with resend: true).',
      };
    }
    const mime = toMimeMessage(renderInvitationEmail(stored.invitation, redeemUrl, this.options.branding));
    try {
      await pRetry(
        async () => {
          try {
            await this.directory.sendMimeMail(this.options.sender!, mime);
          } catch (error) {
            // A refusal (no Mail.Send, an unknown mailbox, a bad message) is the same next time.
            if (error instanceof GraphCallError && (error.kind === 'permanent' || error.kind === 'credential')) throw new AbortError(error);
            if (error instanceof GraphCallError && error.retryAfterMs)
              await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs));
            throw error;
          }
        },
        { retries: EMAIL_RETRIES, minTimeout: 500, maxTimeout: 5_000 },
      );
      return { emailStatus: 'Sent', emailSentAt: new Date().toISOString() };
    } catch (error) {
      const reason = error instanceof GraphCallError ? `${error.code}: ${error.message}` : String(error);
      return { emailStatus: 'Failed', emailError: reason.slice(0, 1_000) };
    }
  }

  /**
   * Adds the guest to one group. A 404 for the user is directory replication (Graph created them
   * moments ago): retried with backoff for replicationWaitMs. "Already exist" is success. A 404 for
   * the group, or no permission, fails this group alone.
   */
  private async addToGroup(groupId: string, stored: StoredRecord): Promise<GroupOutcome> {
    const userId = stored.record.invitedUserId;
    if (!userId) return { id: groupId, status: 'Failed', error: 'the guest id is unknown (Graph’s answer was lost)' };
    const waitMs = this.options.replicationWaitMs ?? 60_000;
    let alreadyMember = false;
    try {
      await pRetry(
        async () => {
          try {
            await this.directory.addGroupMember(groupId, userId);
          } catch (error) {
            if (!(error instanceof GraphCallError)) throw error;
            if (error.httpStatus === 400 && ALREADY_MEMBER.test(error.message)) {
              alreadyMember = true;
              return;
            }
            const userNotYetThere = error.httpStatus === 404 && !error.message.includes(groupId);
            if (userNotYetThere || error.kind === 'transient' || error.kind === 'throttled') throw error;
            throw new AbortError(error);
          }
        },
        { retries: 100, minTimeout: 250, maxTimeout: 5_000, maxRetryTime: waitMs },
      );
      return { id: groupId, status: alreadyMember ? 'AlreadyMember' : 'Added' };
    } catch (error) {
      return { id: groupId, status: 'Failed', error: describeGroupError(error, groupId) };
    }
  }

  /** Writes the outcomes onto the record as it is now (a compare-and-swap, read again on a race). */
  private async write(id: string, outcome: InvitationOutcome): Promise<void> {
    for (;;) {
      const stored = await this.store.getById(id);
      if (!stored || stored.record.status !== 'Invited') return; // submitted again meanwhile: a new attempt owns the record
      const { groups, ...fields } = outcome;
      const next: RecordEntity = { ...stored.entity, ...fields, ...(groups ? groupsColumns(groups) : {}) };
      if (await this.store.replace(next, stored.etag, { announce: false })) return;
    }
  }
}

function describeGroupError(error: unknown, groupId: string): string {
  if (!(error instanceof GraphCallError)) return String(error);
  if (error.httpStatus === 404 && error.message.includes(groupId)) return `no such group (${error.code})`;
  if (error.httpStatus === 404) return `the guest was still unknown to the directory after waiting (${error.code})`;
  if (error.kind === 'credential') return `the app may not add members (${error.code}): grant GroupMember.ReadWrite.All`;
  return `${error.code}: ${error.message}`.slice(0, 500);
}
