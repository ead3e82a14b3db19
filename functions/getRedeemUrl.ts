import { problems } from './runtime/problems';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/**
 * GET /api/invitations/{id}/redeem-url: the one answer that carries a redemption URL, a credential
 * that signs its holder in as the guest. It needs the admin (master) key, not a function key:
 * the record id is derived from the email, so anyone with the intake's key could name any person.
 * See docs/security.md.
 */
export const getRedeemUrl = defineHttp({
  name: 'getRedeemUrl',
  route: 'invitations/{id}/redeem-url',
  methods: ['GET'],
  authLevel: 'admin',
  callerRole: 'operate',
  handler: (deps) => async (request) => {
    const stored = await deps.store.getNamed(request.params.id ?? '');
    const { inviteRedeemUrl, status } = stored.record;
    if (!inviteRedeemUrl)
      throw problems.notFound(
        `Invitation ${stored.record.id} has no redemption URL (status ${status}${stored.record.detailsMissing ? ', details missing' : ''}).`,
      );
    return jsonResponse(200, { id: stored.record.id, inviteRedeemUrl });
  },
});
