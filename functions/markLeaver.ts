import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/**
 * DELETE /api/invitations/{id}: HR says the person has gone (shared/lifecycle/leavers.ts). They are
 * Left at once, and LEAVER_ACTION is done to the guest this app created after LEAVER_GRACE. Only
 * with INVITE_ALLOW_LEAVERS=true (403 otherwise): the operator grants the power, not the key.
 */
export const markLeaver = defineHttp({
  name: 'markLeaver',
  route: 'invitations/{id}',
  methods: ['DELETE'],
  authLevel: 'function',
  callerRole: 'submit',
  handler: (deps) => async (request) =>
    jsonResponse(200, await deps.leavers.leave(request.params.id ?? '', 'DELETE /api/invitations/{id}')),
});
