import { z } from 'zod';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../shared/batches';
import { batchIdSchema } from '../shared/intake';
import { invitationStatusSchema } from '../shared/core';
import { defineHttp } from './runtime/defineFunction';
import { csvResponseIfAsked, parseOrProblem } from './runtime/http';

const batchQuerySchema = z.object({
  batchId: batchIdSchema,
  pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  continuationToken: z.string().min(1).optional(),
  format: z.enum(['json', 'csv']).optional(),
  status: invitationStatusSchema.optional(),
});

/**
 * GET /api/batches/{batchId}: counts and a page of items (`?status=Failed`: of the people in that
 * status); `?format=csv` or `Accept: text/csv` for the results file.
 */
export const getBatch = defineHttp({
  name: 'getBatch',
  route: 'batches/{batchId}',
  methods: ['GET'],
  authLevel: 'function',
  callerRole: 'read',
  handler: (deps) => async (request) => {
    const query = { ...Object.fromEntries(request.query.entries()), batchId: request.params.batchId };
    const { batchId, pageSize, continuationToken, format, status } = parseOrProblem(batchQuerySchema, query);
    const csv = csvResponseIfAsked(request, format, `${batchId}-results.csv`, () => deps.batchReports.resultsCsv(batchId));
    if (csv) return csv;
    return {
      status: 200,
      jsonBody: await deps.batchReports.report(batchId, {
        pageSize,
        ...(continuationToken ? { continuationToken } : {}),
        ...(status ? { status } : {}),
      }),
    };
  },
});
