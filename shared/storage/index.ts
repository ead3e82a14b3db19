/**
 * Table storage and the queue: the record's row and its one mapping, the store (admission,
 * compare-and-swap writes, lookups), the invitations queue and its message, shared counters, the
 * storage account (a connection string or a managed identity), and the table's layout: every kind
 * of row and the handle on its rows.
 */

export { CallerResendBudget } from './callerResendBudget';
export {
  INVITATIONS_QUEUE,
  InvitationQueue,
  encodeQueueMessage,
  invitationMessageSchema,
  poisonQueueName,
  type InvitationMessage,
} from './invitationQueue';
export {
  INVITATIONS_TABLE,
  InvitationStore,
  type RecordChange,
  type RecordChangeFollower,
  type OutboxEntry,
  type EventOutboxWriter,
} from './invitationStore';
export { type AdmissionCandidate, type AdmissionResult, type RecordedAdmission } from './personAdmission';
export {
  NO_CLAIM,
  errorColumns,
  groupsColumns,
  outcomeColumns,
  readRecord,
  recordFromEntity,
  type RecordEntity,
  type StoredRecord,
} from './recordEntity';
export { storageAccountFromSettings, type StorageAccount } from './storageAccount';
export { moveOf, returnOf, shouldQueueAgain, type Move, type Return } from './admissionRules';
export { takeFromRollingWindow, takeFromSlidingWindow } from './tableCounter';
export {
  BATCH_META_ROW,
  FIXED_PARTITION_NAMES,
  PartitionRows,
  TABLE_LAYOUT,
  TableLayout,
  batchPartition,
  type FixedRowKind,
  type RowFields,
  type RowKindLayout,
} from './tableLayout';
export { isConflict, isLostRace, isNotFound, isOutage, isPreconditionFailed, isRefusal } from './errors';
