import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/**
 * GET /api/health: for monitoring probes. 200 when the app can sign in to Graph and is sending, 503
 * while an instance's sign-in circuit is open or sending is paused (the reason in words); with queue and poison depth, the oldest message's age and the
 * time of the last recorded outcome.
 */
export const getHealth = defineHttp({
  name: 'getHealth',
  route: 'health',
  methods: ['GET'],
  authLevel: 'function',
  callerRole: 'read',
  handler: (deps) => async () => {
    const report = await deps.health.report(deps.queue, deps.sendingPause);
    return jsonResponse(report.healthy ? 200 : 503, report);
  },
});
