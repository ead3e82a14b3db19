import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

/**
 * POST /api/invitations/{id}/resend-email: an operator sends our own invitation email again, after
 * its outcome was Unknown (and it is not in the sender's Sent Items) or it Failed
 * (shared/worker/emailResend.ts). Admin key: it emails a redemption link.
 */
export const resendEmail = defineHttp({
  name: 'resendEmail',
  route: 'invitations/{id}/resend-email',
  methods: ['POST'],
  authLevel: 'admin',
  callerRole: 'operate',
  handler: (deps) => async (request) => jsonResponse(202, await deps.emailResend.resend(request.params.id ?? '')),
});
