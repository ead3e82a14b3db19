import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/**
 * POST /api/invitations/{id}/reset-redemption: an operator resets the redemption of the guest this
 * app created for the person (shared/lifecycle/redemptionReset.ts), so it can be redeemed again
 * with a new invitation. Admin key: the next redeemer takes over the user object with its access.
 */
export const resetRedemption = defineHttp({
  name: 'resetRedemption',
  route: 'invitations/{id}/reset-redemption',
  methods: ['POST'],
  authLevel: 'admin',
  callerRole: 'operate',
  handler: (deps) => async (request) => jsonResponse(202, await deps.redemptionReset.reset(request.params.id ?? '')),
});
