import { z } from 'zod';
import { defineHttp } from './runtime/defineFunction';
import { parseOrProblem } from './runtime/http';

export const DEFAULT_BATCHES_PAGE = 20;
const MAX_BATCHES_PAGE = 100;

const listQuerySchema = z.object({
  pageSize: z.coerce.number().int().min(1).max(MAX_BATCHES_PAGE).default(DEFAULT_BATCHES_PAGE),
  continuationToken: z.string().min(1).optional(),
});

/** GET /api/batches: recent batches, newest first, each with its source, creation time and counts. */
export const listBatches = defineHttp({
  name: 'listBatches',
  route: 'batches',
  methods: ['GET'],
  authLevel: 'function',
  callerRole: 'read',
  handler: (deps) => async (request) => {
    const { pageSize, continuationToken } = parseOrProblem(listQuerySchema, Object.fromEntries(request.query.entries()));
    return { status: 200, jsonBody: await deps.batchReports.list({ pageSize, ...(continuationToken ? { continuationToken } : {}) }) };
  },
});
