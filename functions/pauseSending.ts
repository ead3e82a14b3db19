import { z } from 'zod';
import { defineHttp } from './runtime/defineFunction';
import { callerIdentity } from './runtime/callerRoles';
import { jsonResponse, parseOrProblem, readRawBody } from './runtime/http';
import { problems } from './runtime/problems';

const pauseRequestSchema = z.strictObject({
  reason: z.string().trim().min(1, 'must say why sending pauses').max(500),
});

/**
 * /api/pause, an operator's switch for all sending (shared/graph/sendingPause.ts): `PUT` with
 * `{"reason": "…"}` stops every instance from calling Graph's /invitations at once (a wrong roster
 * uploaded, a change freeze); `DELETE` resumes, after a tenant pause too; `GET` says whether, why,
 * since when and by whom. Submissions are accepted meanwhile. Admin key (or Invitations.Operate).
 */
export const pauseSending = defineHttp({
  name: 'pauseSending',
  route: 'pause',
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'admin',
  callerRole: 'operate',
  handler: (deps) => async (request) => {
    const pause = deps.sendingPause;
    if (request.method === 'PUT') {
      const text = Buffer.from(await readRawBody(request)).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw problems.invalidRequest('The body must be JSON: {"reason": "why sending pauses"}.');
      }
      const { reason } = parseOrProblem(pauseRequestSchema, body);
      const mode = deps.settings.API_CALLER_AUTH;
      const by = mode === 'entra' ? (request.headers.get('x-ms-client-principal-name') ?? callerIdentity(request, mode)) : 'the admin key';
      return jsonResponse(200, { paused: true, ...(await pause.pauseByOperator(reason, by)) });
    }
    if (request.method === 'DELETE') {
      const ended = await pause.resumeByOperator();
      return jsonResponse(200, { paused: false, ...(ended ? { ended } : {}) });
    }
    const current = await pause.current();
    return jsonResponse(200, current ? { paused: true, ...current } : { paused: false });
  },
});
