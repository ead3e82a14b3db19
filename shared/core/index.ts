/**
 * The ground floor: what every capability shares and nothing else imports from above. The
 * invitation and the record (their schemas are the single source of truth), email addresses
 * (checked, normalised, masked for logs), a submission's items, Table storage's limits, ISO 8601
 * durations, the failures the domain names (the edge says them in HTTP), webhook signatures, bounded concurrency and the log.
 */

export { hostKeyOf, isAllowedHost } from './allowedHosts';
export { createLimiter, mapWithConcurrency, settleWithConcurrency } from './concurrency';
export { emailAddressProblem, emailDomain, maskEmailAddress, normalizeEmailAddress } from './emailAddress';
export {
  deliveryWarning,
  invitationSchema,
  profileSchema,
  toGraphInvitationRequest,
  type GraphInvitationRequest,
  type Invitation,
  type Profile,
} from './invitation';
export {
  FINAL_STATUSES,
  INVITATION_STATUSES,
  INVITED_STATUSES,
  RETRYABLE_STATUSES,
  invitationErrorSchema,
  invitationLifecycleSchema,
  invitationOutcomeSchema,
  invitationRecordSchema,
  invitationStatusSchema,
  recordIdForEmail,
  recordIdSchema,
  withoutRedeemUrl,
  type ExpiredAction,
  type GroupOutcome,
  type InvitationError,
  type InvitationLifecycle,
  type InvitationOutcome,
  type InvitationRecord,
  type InvitationStatus,
  type ListedInvitationRecord,
} from './invitationRecord';
export {
  BadSignature,
  Conflict,
  type ConflictReason,
  type Dependency,
  InvalidRequest,
  type InvalidReason,
  NotAllowed,
  NotFound,
  Unavailable,
} from './failures';
export { isoDurationMs } from './isoDuration';
export { type Log } from './log';
export { type AcceptedItem, type ItemError, type RejectedItem, type SubmittedValues, submittedValuesOf } from './submissionItems';
export { MAX_KEY_CHARACTERS, MAX_PROPERTY_CHARACTERS } from './tableLimits';
export { SIGNATURE_HEADER, signBody, verifySignature } from './webhookSignature';
