/**
 * The ground floor: what every capability shares and nothing else imports from above. The
 * invitation and the record (their schemas are the single source of truth), email addresses
 * (checked, normalised, masked for logs), a submission's items, Table storage's limits, ISO 8601
 * durations, RFC 9457 problems, webhook signatures, bounded concurrency and the log.
 */

export { hostKeyOf, isAllowedHost } from './allowedHosts';
export { createLimiter, mapWithConcurrency, settleWithConcurrency } from './concurrency';
export { emailAddressProblem, emailDomain, maskEmailAddress, normalizeEmailAddress } from './emailAddress';
export { deliveryWarning, invitationSchema, toGraphInvitationRequest, type GraphInvitationRequest, type Invitation } from './invitation';
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
export { isoDurationMs } from './isoDuration';
export { type Log } from './log';
export { RequestProblem, problems } from './problem';
export { type AcceptedItem, type ItemError, type RejectedItem } from './submissionItems';
export { MAX_KEY_CHARACTERS, MAX_PROPERTY_CHARACTERS } from './tableLimits';
export { SIGNATURE_HEADER, signBody, verifySignature } from './webhookSignature';
