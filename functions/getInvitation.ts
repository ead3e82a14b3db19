import { withoutRedeemUrl } from '../shared/core';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/** GET /api/invitations/{id}: the record, without its redemption URL (that needs the admin key: getRedeemUrl). */
export const getInvitation = defineHttp({
  name: 'getInvitation',
  route: 'invitations/{id}',
  methods: ['GET'],
  authLevel: 'function',
  callerRole: 'read',
  handler: (deps) => async (request) => {
    const stored = await deps.store.getNamed(request.params.id ?? '');
    return jsonResponse(200, withoutRedeemUrl(stored.record));
  },
});
