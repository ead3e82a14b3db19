import { z } from 'zod';
import { withoutRedeemUrl, normalizeEmailAddress } from '../shared/core';
import { problems } from './runtime/problems';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse } from './runtime/http';

const searchSchema = z.union([z.strictObject({ email: z.string().min(1) }), z.strictObject({ externalId: z.string().min(1) })]);

/** GET /api/invitations?email=… or ?externalId=…: the matching records (without redemption URLs). */
export const findInvitations = defineHttp({
  name: 'findInvitations',
  route: 'invitations',
  methods: ['GET'],
  authLevel: 'function',
  callerRole: 'read',
  handler: (deps) => async (request) => {
    const search = searchSchema.safeParse(Object.fromEntries(request.query.entries()));
    if (!search.success) throw problems.invalidRequest('Search with exactly one of ?email=<address> or ?externalId=<your key>.');
    const records =
      'email' in search.data
        ? await deps.store.findByEmail(normalizeEmailAddress(search.data.email))
        : await deps.store.findByExternalId(search.data.externalId);
    return jsonResponse(200, { items: records.map(withoutRedeemUrl) });
  },
});
