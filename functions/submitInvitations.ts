import { z } from 'zod';
import { planCsv, type SubmissionResult } from '../shared/intake';
import { defineHttp } from './runtime/defineFunction';
import { csvResponseIfAsked, jsonResponse, parseOrProblem, readRawBody, requestOrigin } from './runtime/http';
import { SIGNATURE_HEADER } from '../shared/core';
import { CLIENT_HEADER, sourceFromClientHeader } from '../shared/batches';
import { callerIdentity } from './runtime/callerRoles';

const submitQuerySchema = z.object({
  /** `true`: the plan of what this submission would do, and nothing written (README "Plan first"). */
  dryRun: z.enum(['true', 'false']).optional(),
  /** With dryRun: the plan as CSV (or `Accept: text/csv`). */
  format: z.enum(['json', 'csv']).optional(),
});

/**
 * POST /api/invitations: one invitation, a JSON batch, or the portal's bulk-invite CSV; with
 * `?dryRun=true`, 200 with the plan of what it would do, and nothing written.
 */
export const submitInvitations = defineHttp({
  name: 'submitInvitations',
  route: 'invitations',
  methods: ['POST'],
  authLevel: 'function',
  callerRole: 'submit',
  handler: (deps) => async (request) => {
    const { dryRun, format } = parseOrProblem(submitQuerySchema, Object.fromEntries(request.query));
    const submission = {
      contentType: request.headers.get('content-type') ?? undefined,
      body: await readRawBody(request),
      signature: request.headers.get(SIGNATURE_HEADER),
      idempotencyKey: request.headers.get('idempotency-key'),
      source: sourceFromClientHeader(request.headers.get(CLIENT_HEADER)),
      caller: callerIdentity(request, deps.settings.API_CALLER_AUTH),
    };
    if (dryRun === 'true') {
      const plan = await deps.intake.plan(submission);
      return (await csvResponseIfAsked(request, format, 'plan.csv', () => planCsv(plan))) ?? jsonResponse(200, plan);
    }
    return submissionResponse(await deps.intake.submit(submission), requestOrigin(request));
  },
});

/** 202 with the batch to poll when anyone was accepted; 400 with every rejection when nobody was. */
function submissionResponse({ batchId, items, rejected, replayed }: SubmissionResult & { replayed?: true }, origin: string) {
  const accepted = items.length > 0;
  const batchUrl = `${origin}/api/batches/${batchId}`;
  const body = {
    batchId,
    items: items.map((item) => ({ ...item, statusUrl: `${origin}/api/invitations/${item.id}` })),
    // The caller has what it sent: a rejection says where and why. What a row held is kept for the results files.
    rejected: rejected.map(({ submitted: _submitted, ...rejection }) => rejection),
  };
  const headers = { ...(accepted ? { location: batchUrl } : {}), ...(replayed ? { 'idempotent-replayed': 'true' } : {}) };
  return jsonResponse(accepted ? 202 : 400, body, headers);
}
