import { describe, expect, it } from 'vitest';
import { invitationOutcomeSchema, type InvitationRecord } from '../../shared/core/invitationRecord';
import {
  errorColumns,
  NO_CLAIM,
  NO_OUTCOME,
  outcomeColumns,
  recordEntitySchema,
  recordFromEntity,
  type RecordEntity,
} from '../../shared/storage/recordEntity';

// The one mapping between a record and its table row: every record field survives the row, and a
// new attempt or a release clears exactly what the schemas say.

const record: InvitationRecord = {
  id: '0123456789abcdef0123456789abcdef',
  batchId: 'b1',
  email: 'ada@fabrikam.com',
  externalId: 'hr-1',
  status: 'Failed',
  attempts: 2,
  createdAt: '2026-11-29T10:00:00.000Z',
  updatedAt: '2026-11-29T10:00:02.000Z',
  queuedAt: '2026-11-29T10:00:00.000Z',
  invitedUserId: 'user-1',
  inviteRedeemUrl: 'https://login.microsoftonline.com/redeem?ticket=secret',
  graphStatus: 'PendingAcceptance',
  graphRequestId: 'req-1',
  detailsMissing: true,
  error: { code: 'BadRequest', message: 'no', httpStatus: 400, graphRequestId: 'req-2' },
};

function rowFor({ error, ...fields }: InvitationRecord): RecordEntity {
  return recordEntitySchema.parse({
    ...fields,
    ...errorColumns(error),
    request: '{}',
    leaseUntil: '2026-11-29T10:01:00.000Z',
    claimedBy: 'w1',
  });
}

describe('a record and its table row', () => {
  it('give back every field of the record, the error included, and nothing of the table', () => {
    const read = recordFromEntity(rowFor(record));
    expect(read).toEqual(record);
    expect(read).not.toHaveProperty('request');
    expect(read).not.toHaveProperty('claimedBy');
    expect(read).not.toHaveProperty('errorCode');
  });

  it('a new attempt (NO_OUTCOME) leaves none of the outcome fields the record schema declares', () => {
    const read = recordFromEntity({ ...rowFor(record), ...NO_OUTCOME });
    for (const field of Object.keys(invitationOutcomeSchema.shape)) expect(read[field as keyof InvitationRecord], field).toBeUndefined();
    expect(read.email).toBe(record.email);
  });

  it('a release (NO_CLAIM) clears the claim and nothing else', () => {
    const released = { ...rowFor(record), ...NO_CLAIM };
    expect(released.leaseUntil).toBeUndefined();
    expect(released.claimedBy).toBeUndefined();
    expect(recordFromEntity(released)).toEqual(record);
  });

  it('an outcome replaces the fields it gives and the error, and keeps the rest', () => {
    const next = { ...rowFor(record), ...outcomeColumns({ graphRequestId: 'req-3' }) };
    const read = recordFromEntity(next);
    expect(read.graphRequestId).toBe('req-3');
    expect(read.invitedUserId).toBe('user-1');
    expect(read.error).toBeUndefined();
  });
});
