import { recordIdSchema, withoutRedeemUrl } from '../shared/invitationRecord';
import { problems } from '../shared/problem';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/** GET /api/invitations/{id}: the record, without its redemption URL (that needs the admin key: getRedeemUrl). */
export const getInvitation = defineHttp({
  name: 'getInvitation',
  route: 'invitations/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: (deps) => async (request) => {
    const id = recordIdSchema.safeParse(request.params.id);
    const stored = id.success ? await deps.store.getById(id.data) : undefined;
    if (!stored) throw problems.notFound(`No invitation ${request.params.id}.`);
    return jsonResponse(200, withoutRedeemUrl(stored.record));
  },
});
