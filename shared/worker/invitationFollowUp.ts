import pRetry, { AbortError } from 'p-retry';
import { type Log, maskEmailAddress, type GroupOutcome, type InvitationOutcome, type InvitationRecord } from '../core';
import {
  type CredentialCircuit,
  WaitBeyondDeadlineError,
  type GraphPacer,
  GraphCallError,
  type GraphDirectoryClient,
  type GraphInvitationsClient,
  type Guest,
  pacedWrite,
  type WriteAnswer,
} from '../graph';
import { isOwnGuest } from '../lifecycle';
import { isSignInFailure, StepWaits } from './followUpStep';
import { EmailStep, type EmailOutcome } from './emailStep';
import type { Branding, MailboxBudget } from '../mail';
import { type InvitationStore, type StoredRecord, groupsColumns, type RecordEntity } from '../storage';

/**
 * What an invitation still needs once Graph has created it, each never a reason to call
 * /invitations again:
 * - our own email (INVITE_DELIVERY=mail), from INVITE_SENDER through Graph's sendMail, at most
 *   once and never silently lost (emailStep.ts), recorded as `emailStatus` (Pending, Sending,
 *   Sent, Failed or Unknown with `emailError`);
 * - the groups the item names (`POST /groups/{id}/members/$ref`), each recorded with its outcome;
 * - the item's `profile` (`PATCH /users/{id}`), recorded as `profileStatus` (Pending, Set, Failed
 *   with `profileError`);
 * - a returning leaver's guest, disabled when they left, enabled again (`reenableStatus`).
 * They are marked Pending in the same write as Invited, so a crash before they are done is
 * finished by the message's redelivery (the worker calls `complete` on a final record too).
 * While the app cannot sign in (the credential circuit is open, or a step meets a refused token),
 * a step stays Pending and the worker hands the message back, as it does with invitations: the
 * app's sign-in is never a person's failure.
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
  /** The process's Graph sign-in circuit, shared with the invitations. */
  circuit?: Pick<CredentialCircuit, 'openForMs' | 'open'>;
  /**
   * The app's write budget, shared with the invitations: a group add is an identity write (3,000 per
   * 150 s per app and tenant), so it takes a turn, and a 429 slows every caller of the budget.
   */
  pacer?: Pick<GraphPacer, 'acquire' | 'throttled' | 'accepted'>;
  /** The sending mailbox's limits, shared by every instance (mail/mailboxBudget.ts). */
  mailbox?: Pick<MailboxBudget, 'send'>;
  /** Graph's invitations: a new redemption link for a guest whose invitation's answer was lost (emailStep.ts). */
  invitations?: Pick<GraphInvitationsClient, 'createInvitation'>;
}

/** What `complete` left to do: `waitMs` when a step waits for the app's sign-in (hand the message back then). */
export interface FollowUpResult {
  waitMs?: number;
}

const ALREADY_MEMBER = /added object references already exist/i;
/** Email outcomes the step still has to settle: one to send, or one whose send may have gone out (looked for first). */
const EMAIL_STEPS: ReadonlySet<string> = new Set(['Pending', 'Sending']);
/** Group outcomes a step still has to make: an add, or a mover's removal. */
const GROUP_STEPS: ReadonlySet<string> = new Set(['Pending', 'Removing']);
// A step that met the app's sign-in failing is looked at again no sooner than this.
const SIGN_IN_WAIT_MIN_MS = 1_000;

export class InvitationFollowUp {
  private readonly email: EmailStep | undefined;

  constructor(
    private readonly store: InvitationStore,
    private readonly directory: Pick<
      GraphDirectoryClient,
      'sendMimeMail' | 'hasSentMessage' | 'addGroupMember' | 'removeGroupMember' | 'updateProfile' | 'readGuests' | 'enable'
    >,
    private readonly options: FollowUpOptions,
  ) {
    this.email =
      options.delivery === 'mail' && options.sender
        ? new EmailStep(directory, (id, fields) => this.write(id, fields), {
            sender: options.sender,
            branding: options.branding,
            ...(options.mailbox ? { mailbox: options.mailbox } : {}),
            ...(options.pacer ? { pacer: options.pacer } : {}),
            ...(options.invitations ? { invitations: options.invitations } : {}),
          })
        : undefined;
  }

  /** Whether this attempt's request asks Graph for its own email: never when we send ours. */
  graphSendsEmail(wanted: boolean): boolean {
    return this.options.delivery === 'graph' && wanted;
  }

  /** What the Invited write marks as still to do. A reminder's groups were done the first time. */
  pendingWork(stored: StoredRecord, { emailWanted, reminder }: { emailWanted: boolean; reminder: boolean }): InvitationOutcome {
    const email = this.options.delivery === 'mail' && emailWanted ? { emailStatus: 'Pending' as const } : {};
    const groups =
      !reminder && stored.invitation.groups ? { groups: stored.invitation.groups.map((id) => ({ id, status: 'Pending' as const })) } : {};
    const profile = !reminder && stored.invitation.profile ? { profileStatus: 'Pending' as const } : {};
    return { ...email, ...groups, ...profile };
  }

  static hasPendingWork(record: InvitationRecord): boolean {
    return (
      // Accepted too: a mover's profile is written onto a guest who has redeemed.
      (record.status === 'Invited' || record.status === 'Accepted') &&
      (EMAIL_STEPS.has(record.emailStatus ?? '') ||
        record.profileStatus === 'Pending' ||
        record.reenableStatus === 'Pending' ||
        (record.groups ?? []).some((group) => GROUP_STEPS.has(group.status)))
    );
  }

  /** Does what is pending for the person, and records each outcome; steps that wait for the app's sign-in stay Pending. */
  async complete(id: string, log: Log): Promise<FollowUpResult> {
    const stored = await this.store.getById(id);
    if (!stored || !InvitationFollowUp.hasPendingWork(stored.record)) return {};
    if (this.signInWaitMs() > 0) return { waitMs: this.signInWaitMs() };
    const who = `Invitation ${id} (${maskEmailAddress(stored.record.email)})`;
    const waits: StepWaits[] = [];
    const email = EMAIL_STEPS.has(stored.record.emailStatus ?? '')
      ? await this.unlessItWaits(() => this.sendEmail(stored), waits)
      : undefined;
    if (email?.emailStatus === 'Sent')
      log.info(`${who}: our invitation email sent${email.linkRecoveredAt ? ' (with a recovered link)' : ''}.`);
    else if (email?.emailStatus === 'Unknown') log.error(`${who}: ${email.emailError}`);
    else if (email?.emailStatus === 'Failed')
      log.warn(`${who}: our invitation email failed (${email.emailError}); Graph is not called again.`);
    const groups = await Promise.all(
      (stored.record.groups ?? []).map(async (group) => {
        if (group.status === 'Pending') return (await this.unlessItWaits(() => this.addToGroup(group.id, stored), waits)) ?? group;
        if (group.status === 'Removing') return (await this.unlessItWaits(() => this.removeFromGroup(group.id, stored), waits)) ?? group;
        return group;
      }),
    );
    for (const group of groups.filter((outcome) => outcome.status === 'Failed'))
      log.warn(`${who}: group ${group.id} not changed (${group.error}).`);
    const profile = stored.record.profileStatus === 'Pending' ? await this.unlessItWaits(() => this.setProfile(stored), waits) : undefined;
    if (profile?.profileStatus === 'Failed') log.warn(`${who}: profile not set (${profile.profileError}).`);
    const reenabled = stored.record.reenableStatus === 'Pending' ? await this.unlessItWaits(() => this.reenable(stored), waits) : undefined;
    if (reenabled?.reenableStatus === 'Failed')
      log.warn(`${who}: the returning leaver's guest was not enabled (${reenabled.reenableError}).`);
    // Only what a step decided is written: a message handed back while everything waits changes no row.
    const groupsDecided = groups.some((group, index) => group !== stored.record.groups?.[index]);
    if (email || groupsDecided || profile || reenabled)
      await this.write(id, {
        ...(email ?? {}),
        ...(stored.record.groups ? { groups } : {}),
        ...(profile ?? {}),
        ...(reenabled ?? {}),
      });
    const waiting =
      (email?.emailStatus === undefined && EMAIL_STEPS.has(stored.record.emailStatus ?? '')) ||
      (profile === undefined && stored.record.profileStatus === 'Pending') ||
      (reenabled === undefined && stored.record.reenableStatus === 'Pending') ||
      groups.some((group) => GROUP_STEPS.has(group.status));
    if (!waiting) return {};
    const waitMs = Math.max(SIGN_IN_WAIT_MIN_MS, this.signInWaitMs(), ...waits.map((wait) => wait.waitMs));
    const why = waits.map((wait) => wait.why).find(Boolean) ?? "the app's Graph sign-in";
    log.warn(`${who}: waiting for ${why}; the pending steps run again in ${Math.ceil(waitMs / 1000)} s.`);
    return { waitMs };
  }

  /** A step's outcome, or undefined (the step stays Pending) when it cannot go now: why is kept in `waits`. */
  private async unlessItWaits<T>(step: () => Promise<T>, waits: StepWaits[]): Promise<T | undefined> {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof StepWaits)) throw error;
      waits.push(error);
      return undefined;
    }
  }

  private signInWaitMs(): number {
    return this.options.circuit?.openForMs ?? 0;
  }

  /** Throws StepWaits (and opens the circuit) when the step failed on the app's sign-in. */
  private waitOnSignIn(error: unknown): void {
    if (!(error instanceof GraphCallError) || !isSignInFailure(error)) return;
    // As the sender does: the circuit probes for a fresh token, and every step waits meanwhile.
    this.options.circuit?.open(error);
    throw new StepWaits();
  }

  /** Our own email (emailStep.ts); a step that met the app's sign-in failing waits, as every step does. */
  private async sendEmail(stored: StoredRecord): Promise<EmailOutcome> {
    try {
      return await this.email!.send(stored);
    } catch (error) {
      if (error instanceof StepWaits) throw error;
      this.waitOnSignIn(error);
      throw error;
    }
  }

  /**
   * Adds the guest to one group. "Already exist" is success; a 404 for the group, or no
   * permission, fails this group alone.
   */
  private async addToGroup(groupId: string, stored: StoredRecord): Promise<GroupOutcome> {
    const userId = stored.record.invitedUserId;
    if (!userId) return { id: groupId, status: 'Failed', error: 'the guest id is unknown (Graph’s answer was lost)' };
    try {
      const done = await this.writeToNewGuest(() => this.directory.addGroupMember(groupId, userId), {
        userMissing: (error) => error.httpStatus === 404 && !error.message.includes(groupId),
        settled: (error) => error.httpStatus === 400 && ALREADY_MEMBER.test(error.message),
      });
      return { id: groupId, status: done === 'settled' ? 'AlreadyMember' : 'Added' };
    } catch (error) {
      if (error instanceof StepWaits) throw error;
      this.waitOnSignIn(error);
      return { id: groupId, status: 'Failed', error: describeGroupError(error, groupId) };
    }
  }

  /**
   * Takes a mover out of a group this app added them to and the submission no longer names (the
   * store marks only those Removing). A membership already gone is removed; a refusal fails that group alone.
   */
  private async removeFromGroup(groupId: string, stored: StoredRecord): Promise<GroupOutcome> {
    const userId = stored.record.ownedUserId ?? stored.record.invitedUserId;
    if (!userId) return { id: groupId, status: 'Failed', error: 'the guest id is unknown (Graph’s answer was lost)' };
    try {
      await this.writeToNewGuest(() => this.directory.removeGroupMember(groupId, userId), {
        userMissing: () => false,
        settled: (error) => error.httpStatus === 404 && !error.message.includes(groupId),
      });
      return { id: groupId, status: 'Removed' };
    } catch (error) {
      if (error instanceof StepWaits) throw error;
      this.waitOnSignIn(error);
      return { id: groupId, status: 'Failed', error: describeGroupError(error, groupId) };
    }
  }

  /**
   * Sets the invitation's profile on the guest (`PATCH /users/{id}`), and only on a guest this
   * invitation created: Graph answers an invitation of an address that already has a user with that
   * user (a member, a guest someone invited before), whose profile is not the caller's to change
   * (lifecycle/guestOwnership.ts). A refusal fails the profile alone.
   */
  private async setProfile(stored: StoredRecord): Promise<Pick<InvitationOutcome, 'profileStatus' | 'profileError'>> {
    const userId = stored.record.invitedUserId;
    const profile = Object.fromEntries(
      Object.entries(stored.invitation.profile ?? {}).filter(([, value]) => value !== undefined),
    ) as Record<string, string>;
    if (!userId) return { profileStatus: 'Failed', profileError: 'the guest id is unknown (Graph’s answer was lost)' };
    try {
      const guest = await this.readNewGuest(userId, Object.keys(profile));
      if (!guest || !isOwnGuest(guest, { ...stored.record, attemptQueuedAt: stored.record.attemptQueuedAt ?? stored.record.queuedAt }))
        return {
          profileStatus: 'Failed',
          profileError:
            'the address belongs to a user this app did not create (a member, or a guest invited before): its profile is left alone',
        };
      // Only what differs from the guest as it is now: a mover's unchanged fields, or a retry's, are not written again.
      const changes = Object.fromEntries(Object.entries(profile).filter(([field, value]) => guest[field] !== value));
      if (Object.keys(changes).length > 0)
        await this.writeToNewGuest(() => this.directory.updateProfile(userId, changes), {
          userMissing: (error) => error.httpStatus === 404,
        });
      return { profileStatus: 'Set' };
    } catch (error) {
      if (error instanceof StepWaits) throw error;
      this.waitOnSignIn(error);
      return { profileStatus: 'Failed', profileError: describeProfileError(error) };
    }
  }

  /**
   * Enables a returning leaver's guest again. Only a guest this app disabled: the leaver's action
   * was written onto the guest established as the app's own (lifecycle/leavers.ts), so that is
   * the one enabled.
   */
  private async reenable(stored: StoredRecord): Promise<Pick<InvitationRecord, 'reenableStatus' | 'reenableError'>> {
    const userId = stored.record.ownedUserId;
    if (!userId) return { reenableStatus: 'Failed', reenableError: 'the guest this app created is not known: nothing is enabled' };
    try {
      await this.writeToNewGuest(() => this.directory.enable(userId), { userMissing: () => false });
      return { reenableStatus: 'Enabled' };
    } catch (error) {
      if (error instanceof StepWaits) throw error;
      this.waitOnSignIn(error);
      const reason = error instanceof GraphCallError ? `${error.code}: ${error.message}` : String(error);
      return { reenableStatus: 'Failed', reenableError: reason.slice(0, 500) };
    }
  }

  /** The user Graph's 201 named, read (a 404 is replication for a moment, as for writes); undefined if it never appears. */
  private async readNewGuest(userId: string, moreFields: readonly string[]): Promise<Guest | undefined> {
    const waitMs = this.options.replicationWaitMs ?? 60_000;
    try {
      return await pRetry(
        async () => {
          const read = (await this.directory.readGuests([userId], moreFields)).get(userId);
          if (read?.kind === 'found') return read.guest;
          if (read?.kind === 'failed' && !(read.error.kind === 'transient' || read.error.kind === 'throttled'))
            throw new AbortError(read.error);
          throw read?.kind === 'failed' ? read.error : new Error(`user ${userId} not found yet`);
        },
        { retries: 100, minTimeout: 250, maxTimeout: 5_000, maxRetryTime: waitMs },
      );
    } catch (error) {
      if (error instanceof GraphCallError) throw error;
      return undefined;
    }
  }

  /**
   * One identity write on a guest Graph has just created, in the write budget's turns: a 404 for
   * the user is directory replication, retried with backoff for replicationWaitMs; a 429 waits
   * for its Retry-After (never using up a retry); a transient failure is retried; anything else
   * ends it. `settled` names the refusals that mean it is done already (a group's "already exist").
   */
  private async writeToNewGuest(
    write: () => Promise<WriteAnswer>,
    { userMissing, settled }: { userMissing: (error: GraphCallError) => boolean; settled?: (error: GraphCallError) => boolean },
  ): Promise<'written' | 'settled'> {
    const waitMs = this.options.replicationWaitMs ?? 60_000;
    const deadline = Date.now() + waitMs;
    let outcome: 'written' | 'settled' = 'written';
    await pRetry(
      async () => {
        try {
          await pacedWrite(this.options.pacer, deadline, write);
        } catch (error) {
          if (error instanceof WaitBeyondDeadlineError) throw new AbortError(new StepWaits());
          if (!(error instanceof GraphCallError)) throw error;
          if (settled?.(error)) {
            outcome = 'settled';
            return;
          }
          // Graph's Retry-After holds this write (the pacer has slowed every caller of the budget).
          if (error.kind === 'throttled' && error.retryAfterMs) await new Promise((resolve) => setTimeout(resolve, error.retryAfterMs));
          if (isSignInFailure(error)) throw new AbortError(error);
          if (userMissing(error) || error.kind === 'transient' || error.kind === 'throttled') throw error;
          throw new AbortError(error);
        }
      },
      {
        retries: 100,
        minTimeout: 250,
        maxTimeout: 5_000,
        maxRetryTime: waitMs,
        // A 429 waits for its Retry-After; it never uses up a retry.
        shouldConsumeRetry: ({ error }) => !(error instanceof GraphCallError && error.kind === 'throttled'),
      },
    );
    return outcome;
  }

  /**
   * Writes the outcomes onto the record as it is now (a compare-and-swap, read again on a race);
   * false when a new attempt owns the record (submitted again meanwhile), and nothing was written.
   */
  private async write(
    id: string,
    outcome: InvitationOutcome & Pick<InvitationRecord, 'reenableStatus' | 'reenableError'>,
  ): Promise<boolean> {
    for (;;) {
      const stored = await this.store.getById(id);
      if (!stored || (stored.record.status !== 'Invited' && stored.record.status !== 'Accepted')) return false;
      const { groups, ...fields } = outcome;
      const next: RecordEntity = { ...stored.entity, ...fields, ...(groups ? groupsColumns(groups) : {}) };
      if (await this.store.replace(next, stored.etag, { announce: false })) return true;
    }
  }
}

function describeProfileError(error: unknown): string {
  if (!(error instanceof GraphCallError)) return String(error);
  if (error.httpStatus === 404) return `the guest was still unknown to the directory after waiting (${error.code})`;
  if (error.httpStatus === 403)
    return `the app may not write users' profiles (${error.code}): it needs User.ReadWrite.All (scripts/grant-graph-permission.sh --with-profile)`;
  return `${error.code}: ${error.message}`.slice(0, 500);
}

function describeGroupError(error: unknown, groupId: string): string {
  if (!(error instanceof GraphCallError)) return String(error);
  if (error.httpStatus === 404 && error.message.includes(groupId)) return `no such group (${error.code})`;
  if (error.httpStatus === 404) return `the guest was still unknown to the directory after waiting (${error.code})`;
  if (error.httpStatus === 403)
    return `the app may not add members to this group (${error.code}): it needs GroupMember.ReadWrite.All, and for a role-assignable group also RoleManagement.ReadWrite.Directory; a dynamic group takes no members, and a group synced from on-premises is changed there`;
  return `${error.code}: ${error.message}`.slice(0, 500);
}
