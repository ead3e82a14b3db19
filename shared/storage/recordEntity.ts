import type { TableEntityResult } from '@azure/data-tables';
import { z } from 'zod';
import {
  invitationErrorSchema,
  invitationLifecycleSchema,
  invitationOutcomeSchema,
  invitationRecordSchema,
  type GroupOutcome,
  type InvitationError,
  type Invitation,
  type InvitationOutcome,
  type InvitationRecord,
} from '../core';
import { recordPartition, type TableLayout } from './tableLayout';

/**
 * A record as one Table row: the one mapping between the two. The row holds the record's fields
 * as they are, except:
 * - `error`, flattened into the ERROR_COLUMNS (a Table property holds no object);
 * - what only the table holds: the invitation as submitted (`request`), the person's place in their
 *   batch (`batchPosition`) and the worker's claim.
 * Each of these is written once, below; every other field follows invitationRecordSchema.
 */

/** The error's columns, by the error field each holds. */
const ERROR_COLUMNS = {
  code: 'errorCode',
  message: 'errorMessage',
  httpStatus: 'errorHttpStatus',
  graphRequestId: 'errorGraphRequestId',
} as const satisfies Record<keyof InvitationError, string>;
type ErrorField = keyof typeof ERROR_COLUMNS;
const ERROR_FIELDS = Object.keys(ERROR_COLUMNS) as ErrorField[];
type ErrorColumnsShape = { [F in ErrorField as (typeof ERROR_COLUMNS)[F]]: z.ZodOptional<(typeof invitationErrorSchema.shape)[F]> };
export type ErrorColumns = { [F in ErrorField as (typeof ERROR_COLUMNS)[F]]?: InvitationError[F] };

const errorColumnsShape = Object.fromEntries(
  ERROR_FIELDS.map((field) => [ERROR_COLUMNS[field], invitationErrorSchema.shape[field].optional()]),
) as unknown as ErrorColumnsShape;

/** The person's place in the batch that last queued them: where the batch keeps their copy (batchLedger.ts). */
const batchPlaceShape = {
  batchPosition: z.number().int().nonnegative().optional(),
};

/** The worker's claim on a person while it calls Graph (invitationClaims.ts). */
const claimShape = {
  leaseUntil: z.string().optional(),
  claimedBy: z.string().optional(),
};

/** The groups' outcomes, as JSON in one column (a Table property holds no array). */
const groupsColumnShape = { groupsJson: z.string().optional() };

export const recordEntitySchema = invitationRecordSchema
  .omit({ error: true, groups: true })
  .extend({ request: z.string() })
  .extend(groupsColumnShape)
  .extend(errorColumnsShape)
  .extend(batchPlaceShape)
  .extend(claimShape);
export type RecordEntity = z.infer<typeof recordEntitySchema>;

/** No claim: spread into a row to release it. */
export const NO_CLAIM = undefinedFor(claimShape);

/** The error's columns for `error`; every column undefined (cleared) when there is none. */
export function errorColumns(error: InvitationError | undefined): ErrorColumns {
  return Object.fromEntries(ERROR_FIELDS.map((field) => [ERROR_COLUMNS[field], error?.[field]])) as ErrorColumns;
}

function errorFromColumns(entity: ErrorColumns): InvitationError | undefined {
  if (!entity.errorCode) return undefined;
  const error = Object.fromEntries(ERROR_FIELDS.map((field) => [field, entity[ERROR_COLUMNS[field]]]));
  return invitationErrorSchema.parse({ ...error, message: error.message ?? '' });
}

const { error: _error, groups: _groups, ...outcomeFieldsShape } = invitationOutcomeSchema.shape;
/** No outcome: spread into a row for a new attempt, so nothing of the previous one is left. */
export const NO_OUTCOME = { ...undefinedFor(outcomeFieldsShape), ...undefinedFor(groupsColumnShape), ...errorColumns(undefined) };
/** No lifecycle: a new submission starts the person's lifecycle again. */
export const NO_LIFECYCLE = undefinedFor(invitationLifecycleSchema.shape);

/**
 * The columns for an outcome written over a row: the fields it gives replace the row's, the others
 * are kept, and the error is replaced (cleared when the outcome has none).
 */
export function outcomeColumns(outcome: InvitationOutcome): Partial<RecordEntity> {
  const { error, groups, ...fields } = invitationOutcomeSchema.parse(outcome);
  const given = Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
  return { ...given, ...(groups ? groupsColumns(groups) : {}), ...errorColumns(error) };
}

/** The groups' column for their outcomes. */
export function groupsColumns(groups: readonly GroupOutcome[]): Pick<RecordEntity, 'groupsJson'> {
  return { groupsJson: JSON.stringify(groups) };
}

export function recordFromEntity(entity: RecordEntity): InvitationRecord {
  // The record schema keeps its own fields and drops the table's (request, the error's, groups' and claim's columns).
  const groups = entity.groupsJson ? (JSON.parse(entity.groupsJson) as unknown) : undefined;
  return invitationRecordSchema.parse({ ...entity, error: errorFromColumns(entity), groups });
}

/** Every key of `shape`, undefined: spread into a row, it removes those columns (a Replace drops undefined properties). */
function undefinedFor<T extends object>(shape: T): { [K in keyof T]: undefined } {
  return Object.fromEntries(Object.keys(shape).map((key) => [key, undefined])) as { [K in keyof T]: undefined };
}

/** A record as read: the record, the invitation as submitted, the row, and the row's ETag. */
export interface StoredRecord {
  record: InvitationRecord;
  invitation: Invitation;
  etag: string;
  entity: RecordEntity;
}

/**
 * One record by id, straight from the table: for readers that need no store (the batch ledger).
 * The id of an address a person's email changed to is an alias (personIndex.ts): it gives that person.
 */
export async function readRecord(layout: TableLayout, id: string): Promise<StoredRecord | undefined> {
  const read = (rowId: string) => layout.recordRows(rowId).find<RecordEntity | { aliasOf: string }>(rowId);
  let entity = await read(id);
  if (entity && 'aliasOf' in entity && typeof entity.aliasOf === 'string') entity = await read(entity.aliasOf);
  // An alias names a record, never another alias.
  return entity && !('aliasOf' in entity) ? toStoredRecord(entity as TableEntityResult<RecordEntity>) : undefined;
}

export function toStoredRecord(entity: TableEntityResult<RecordEntity>): StoredRecord {
  const parsed = recordEntitySchema.parse(entity);
  return {
    record: recordFromEntity(parsed),
    invitation: JSON.parse(parsed.request) as Invitation,
    etag: entity.etag,
    entity: parsed,
  };
}

/** The entity as Table storage takes it; undefined properties are dropped (Replace removes them). */
export function toTableEntity(entity: RecordEntity) {
  const properties = Object.fromEntries(Object.entries(entity).filter(([, value]) => value !== undefined));
  return { partitionKey: recordPartition(entity.id), rowKey: entity.id, ...properties };
}
