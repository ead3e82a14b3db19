import { recordIdSchema } from '../shared/invitationRecord';
import { problems } from '../shared/problem';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/** GET /api/invitations/{id}: the whole record, the only place that returns inviteRedeemUrl. */
export const getInvitation = defineHttp({
  name: 'getInvitation',
  route: 'invitations/{id}',
  methods: ['GET'],
  authLevel: 'function',
  handler: (deps) => async (request) => {
    const id = recordIdSchema.safeParse(request.params.id);
    const stored = id.success ? await deps.store.getById(id.data) : undefined;
    if (!stored) throw problems.notFound(`No invitation ${request.params.id}.`);
    return jsonResponse(200, stored.record);
  },
});
