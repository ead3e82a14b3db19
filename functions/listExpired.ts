import { z } from 'zod';
import { stringifyForSpreadsheets } from '../shared/batches';
import { withoutRedeemUrl } from '../shared/core';
import { defineHttp } from './runtime/defineFunction';
import { csvResponseIfAsked, jsonResponse, parseOrProblem } from './runtime/http';

const expiredQuerySchema = z.object({ format: z.enum(['json', 'csv']).optional() });
const CSV_COLUMNS = [
  'id',
  'email',
  'externalId',
  'batchId',
  'invitedUserId',
  'invitedAt',
  'remindersSent',
  'expiredAt',
  'expiredAction',
] as const;

/**
 * GET /api/expired: the people whose invitation expired (EXPIRE_AFTER), with the action taken;
 * `?format=csv` or `Accept: text/csv` for a spreadsheet. A scan of the records: for a report, not
 * for every request.
 */
export const listExpired = defineHttp({
  name: 'listExpired',
  route: 'expired',
  methods: ['GET'],
  authLevel: 'function',
  callerRole: 'read',
  handler: (deps) => async (request) => {
    const { format } = parseOrProblem(expiredQuerySchema, Object.fromEntries(request.query.entries()));
    const people = (await deps.store.withStatus('Expired'))
      .map(({ record }) => withoutRedeemUrl(record))
      .sort((a, b) => (a.expiredAt ?? '').localeCompare(b.expiredAt ?? ''));
    const csv = csvResponseIfAsked(request, format, 'expired-invitations.csv', () =>
      stringifyForSpreadsheets(
        people.map((person) => CSV_COLUMNS.map((column) => person[column] ?? '')),
        { header: true, columns: [...CSV_COLUMNS] },
      ),
    );
    return csv ?? jsonResponse(200, { count: people.length, items: people });
  },
});
