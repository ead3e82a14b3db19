import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The record of one person's invitation, as the API returns it and as the worker updates it.
 * One record per person (lower-cased email): its id is derived from the email, so a second
 * submission, a retried webhook or a concurrent request all land on the same record.
 */

/**
 * Queued → Processing → Invited | Failed | DeadLettered; then the lifecycle (lifecycle/): Invited →
 * Accepted once the guest redeems, Expired when they never do (EXPIRE_AFTER), Removed when the
 * guest was deleted outside the pipeline, Left when HR (or a partner's synced roster) says the
 * person has gone (lifecycle/leavers.ts). A reminder takes an Invited person through Queued and
 * Processing again. The README's "Lifecycle" section draws it.
 */
export const INVITATION_STATUSES = [
  'Queued',
  'Processing',
  'Invited',
  'Accepted',
  'Expired',
  'Removed',
  'Left',
  'Failed',
  'DeadLettered',
] as const;
export const invitationStatusSchema = z.enum(INVITATION_STATUSES);
export type InvitationStatus = z.infer<typeof invitationStatusSchema>;

/** Statuses on the way: the person is waiting for the worker, or held by it. */
const IN_FLIGHT_STATUSES: readonly InvitationStatus[] = ['Queued', 'Processing'];
/** Statuses after which the worker calls Graph no more unless the person is submitted again: every other. */
export const FINAL_STATUSES: ReadonlySet<InvitationStatus> = new Set(
  INVITATION_STATUSES.filter((status) => !IN_FLIGHT_STATUSES.includes(status)),
);
/** Statuses that follow an invitation: the person has (or had) a guest, and a new attempt emails them again. */
export const INVITED_STATUSES: ReadonlySet<InvitationStatus> = new Set(['Invited', 'Accepted', 'Expired', 'Removed']);
/** Final statuses that a new submission of the same email queues again (a new attempt). */
export const RETRYABLE_STATUSES: ReadonlySet<InvitationStatus> = new Set(['Failed', 'DeadLettered', 'Expired', 'Removed']);

export const invitationErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  httpStatus: z.number().int().optional(),
  graphRequestId: z.string().optional(),
});
export type InvitationError = z.infer<typeof invitationErrorSchema>;

/**
 * A group's outcome for the person: Pending → Added, AlreadyMember or Failed; for a mover no longer
 * named in a group this app added them to, Removing → Removed (or Failed).
 */
export const GROUP_ADD_STATUSES = ['Pending', 'Added', 'AlreadyMember', 'Failed', 'Removing', 'Removed'] as const;
/** One group the person was to join after the invitation (worker/invitationFollowUp.ts). */
export const groupOutcomeSchema = z.object({ id: z.string(), status: z.enum(GROUP_ADD_STATUSES), error: z.string().optional() });
export type GroupOutcome = z.infer<typeof groupOutcomeSchema>;

/**
 * Our own email's outcome: Pending → Sending (recorded just before sendMail) → Sent; Failed with
 * its reason; Unknown when a send was interrupted after it may have gone out and the sender's Sent
 * Items could not be checked (never sent blindly a second time: an operator resends it).
 */
export const EMAIL_STATUSES = ['Pending', 'Sending', 'Sent', 'Failed', 'Unknown'] as const;

/** What the last call to Graph left on a record: cleared when the person is queued again. */
export const PROFILE_STATUSES = ['Pending', 'Set', 'Failed'] as const;

export const invitationOutcomeSchema = z.object({
  invitedUserId: z.string().optional(),
  /** A credential (it redeems the invitation): only GET /api/invitations/{id}/redeem-url (admin key) returns it. */
  inviteRedeemUrl: z.string().optional(),
  graphStatus: z.string().optional(),
  graphRequestId: z.string().optional(),
  /**
   * Graph answered 201 but its body was lost (a dropped connection): the person is invited, and
   * never called again automatically, but the user id and redemption URL are unknown to us.
   */
  detailsMissing: z.boolean().optional(),
  /**
   * A call may have reached Graph before a crash or a lost answer, and a lookup by email found the
   * guest it created: the person is recorded Invited without a second invitation (no redemption URL).
   */
  foundByLookup: z.boolean().optional(),
  /** INVITE_DELIVERY=mail: our own invitation email, sent after Graph's 201 (never a reason to call Graph again). */
  emailStatus: z.enum(EMAIL_STATUSES).optional(),
  emailSentAt: z.string().optional(),
  /**
   * When the attempt that got this answer was queued: a guest created before it was not created by
   * this attempt (lifecycle/guestOwnership.ts).
   */
  attemptQueuedAt: z.string().optional(),
  /** Why the email could not be sent (`<code>: <message>`), or what to check when its outcome is Unknown. */
  emailError: z.string().optional(),
  /** The email's Message-ID, the same for every try of one email (mail/invitationEmail.ts): what the Sent Items check looks for. */
  emailMessageId: z.string().optional(),
  /** Emails an operator sent again after an Unknown or Failed one (POST /api/invitations/{id}/resend-email). */
  emailResends: z.number().int().nonnegative().optional(),
  /** Graph's answer was lost, and a new redemption link was asked for (sendInvitationMessage: false): no second invitation email. */
  linkRecoveredAt: z.string().optional(),
  /** The groups the person was to join, each with its outcome. */
  groups: z.array(groupOutcomeSchema).optional(),
  /** The invitation's `profile`, set on the guest after the 201 (`PATCH /users/{id}`). */
  profileStatus: z.enum(PROFILE_STATUSES).optional(),
  /** Why the profile could not be set (`<code>: <message>`). */
  profileError: z.string().optional(),
  error: invitationErrorSchema.optional(),
});
export type InvitationOutcome = z.infer<typeof invitationOutcomeSchema>;

export const EXPIRED_ACTIONS = ['reported', 'disabled', 'deleted'] as const;
export type ExpiredAction = (typeof EXPIRED_ACTIONS)[number];

/**
 * What became of an invited person after the invitation (lifecycle/redemptionTracker.ts): kept
 * across reminders, cleared when the person is submitted again (a new attempt, a new lifecycle).
 */
export const invitationLifecycleSchema = z.object({
  /** When Graph first accepted the invitation of this attempt: expiry counts from here. */
  invitedAt: z.string().optional(),
  /** Graph's externalUserState when last read (PendingAcceptance, Accepted). */
  externalUserState: z.string().optional(),
  /** When the tracker last read the guest: it reads the least recently read first. */
  checkedAt: z.string().optional(),
  /** Graph's externalUserStateChangeDateTime once the guest redeemed. */
  acceptedAt: z.string().optional(),
  remindersSent: z.number().int().nonnegative().optional(),
  lastRemindedAt: z.string().optional(),
  /** The queued attempt is a reminder: the worker asks Graph to send the email again. */
  reminderDue: z.boolean().optional(),
  /** The queued attempt is an operator's reset of the redemption of the guest this app created (lifecycle/redemptionReset.ts). */
  resetRedemptionDue: z.boolean().optional(),
  /** When an operator's reset of the redemption was last carried out. */
  redemptionResetAt: z.string().optional(),
  expiredAt: z.string().optional(),
  expiredAction: z.enum(EXPIRED_ACTIONS).optional(),
  /** When the tracker found the guest deleted outside the pipeline. */
  removedAt: z.string().optional(),
  /** The expiry action (disable, delete) Graph refused last, with its reason: that person's alone. */
  actionError: z.string().optional(),
  /** How often it was refused in a row, and when it is tried again (a backoff that doubles, from an hour). */
  actionFailures: z.number().int().nonnegative().optional(),
  actionRetryAt: z.string().optional(),
  /** A leaver (lifecycle/leavers.ts): when and why the person was marked Left. */
  leftAt: z.string().optional(),
  leftBecause: z.string().optional(),
  /** What the person was before leaving: a leaver who comes back returns to it (re-enabled, not re-invited). */
  statusBeforeLeaving: invitationStatusSchema.optional(),
  /** When LEAVER_ACTION is due (after LEAVER_GRACE); present until it is carried out. */
  leaverActionDueAt: z.string().optional(),
  /** What was done to the leaver's guest, once done. */
  leaverAction: z.enum(EXPIRED_ACTIONS).optional(),
  /** Why nothing was done to the leaver's guest (no guest, not this app's own, already gone). */
  leaverNote: z.string().optional(),
  /** A returning leaver's guest, disabled when they left, is enabled again (worker/invitationFollowUp.ts). */
  reenableStatus: z.enum(['Pending', 'Enabled', 'Failed']).optional(),
  reenableError: z.string().optional(),
});
export type InvitationLifecycle = z.infer<typeof invitationLifecycleSchema>;

/**
 * The record of one person. Its table row follows from this schema (recordEntity.ts): a new field
 * here is stored, read back and (in invitationOutcomeSchema) cleared on a new attempt, with no
 * other change.
 */
export const invitationRecordSchema = z
  .object({
    id: z.string(),
    batchId: z.string(),
    email: z.string(),
    externalId: z.string().optional(),
    status: invitationStatusSchema,
    attempts: z.number().int().nonnegative(),
    createdAt: z.string(),
    updatedAt: z.string(),
    queuedAt: z.string(),
    /** What the intake warned of when it accepted the person (deliveryWarning). */
    warning: z.string().optional(),
    /**
     * The guest this app's own invitation created (lifecycle/guestOwnership.ts), kept across
     * attempts: disable, delete and reset act on this user alone, never on one found or older.
     */
    ownedUserId: z.string().optional(),
    /** The address before HR changed it (same externalId): the record keeps its id, and both addresses find it. */
    previousEmail: z.string().optional(),
    /** The partner whose synced roster names the person (rosters/rosterSync.ts): dropped from its next roster, they leave. */
    partner: z.string().optional(),
    /** Invitations sent again to this person (`resend`, a new attempt after a guest existed) since resendWindowStartedAt: INVITE_RESEND_MAX_PER_DAY. */
    resendCount: z.number().int().nonnegative().optional(),
    resendWindowStartedAt: z.string().optional(),
  })
  .extend(invitationOutcomeSchema.shape)
  .extend(invitationLifecycleSchema.shape);
export type InvitationRecord = z.infer<typeof invitationRecordSchema>;

/** What every answer but the admin-keyed redeem-url route shows: never the redemption URL. */
export type ListedInvitationRecord = Omit<InvitationRecord, 'inviteRedeemUrl'>;
export function withoutRedeemUrl({ inviteRedeemUrl: _omitted, ...record }: InvitationRecord): ListedInvitationRecord {
  return record;
}

/**
 * Opaque, URL- and Table-key-safe id for a person: 128 bits of SHA-256 of the lower-cased email.
 * No email can break a PartitionKey/RowKey (they forbid / \ # ? and control characters).
 */
export function recordIdForEmail(normalizedEmail: string): string {
  return createHash('sha256').update(normalizedEmail, 'utf8').digest('hex').slice(0, 32);
}

export const recordIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'is not an invitation id');
