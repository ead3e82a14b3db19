import { z } from 'zod';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse, parseOrProblem } from './runtime/http';

const runQuerySchema = z.object({
  dryRun: z.enum(['true', 'false'], { error: 'must be "true" or "false"' }).default('true'),
});

/**
 * POST /api/lifecycle/run: the trackRedemptions run, now. A dry run unless told `?dryRun=false`: it
 * reads every pending guest and answers exactly who would be reminded and expired (and with which
 * action) without changing anything, in Graph or here. Admin key: a run can disable or delete guests.
 */
export const runLifecycle = defineHttp({
  name: 'runLifecycle',
  route: 'lifecycle/run',
  methods: ['POST'],
  authLevel: 'admin',
  callerRole: 'operate',
  handler: (deps) => async (request) => {
    const { dryRun } = parseOrProblem(runQuerySchema, Object.fromEntries(request.query.entries()));
    return jsonResponse(200, await deps.redemptionTracker.run({ dryRun: dryRun === 'true' }));
  },
});
