/**
 * A submission in: JSON or the portal's CSV parsed and validated, the operator's policy applied,
 * idempotency, and the admission that writes records and batch rows and queues one message per
 * person; a batch's redrive is a submission again.
 */

export { BatchRedrive, redriveRequestSchema } from './batchRedrive';
export {
  BULK_INVITE_CSV_OPTIONS,
  BulkInviteCsvError,
  createBulkInviteRowReader,
  parseBulkInviteCsv,
  type CsvRecord,
} from './bulkInviteCsv';
export { IdempotencyStore } from './idempotencyStore';
export { Intake, type SubmissionResult } from './intake';
export {
  InvitationPlanner,
  PLAN_OUTCOMES,
  type InvitationPlan,
  type PlanEntry,
  type PlanOutcome,
  type PlanSummary,
  type PlannerOptions,
} from './invitationPlanner';
export { PLAN_CSV_COLUMNS, planCsv } from './planCsv';
export { combinePlans } from './planParts';
export { type SubmittedItem } from './submissionScreening';
export { MAX_BODY_BYTES, MAX_ITEMS_PER_SUBMISSION, batchIdSchema, describeIssues, validateItems } from './submission';
