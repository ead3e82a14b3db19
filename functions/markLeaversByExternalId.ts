import { z } from 'zod';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse, parseOrProblem } from './runtime/http';

const leaverQuerySchema = z.object({ externalId: z.string().trim().min(1, 'name the person: ?externalId=<your key>') });

/**
 * DELETE /api/invitations?externalId=…: HR says the person with this key has gone, by the key HR
 * knows them by (shared/lifecycle/leavers.ts). The same rules as DELETE /api/invitations/{id}.
 */
export const markLeaversByExternalId = defineHttp({
  name: 'markLeaversByExternalId',
  route: 'invitations',
  methods: ['DELETE'],
  authLevel: 'function',
  callerRole: 'submit',
  handler: (deps) => async (request) => {
    const { externalId } = parseOrProblem(leaverQuerySchema, Object.fromEntries(request.query.entries()));
    return jsonResponse(200, { items: await deps.leavers.leaveByExternalId(externalId, 'DELETE /api/invitations?externalId=') });
  },
});
