import { z } from 'zod';
import { redriveRequestSchema, batchIdSchema } from '../shared/intake';
import { problems } from './runtime/problems';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse, parseOrProblem, readRawBody } from './runtime/http';

/** POST /api/batches/{batchId}/redrive: submit the batch's Failed and DeadLettered people again (all, or `{"ids": [...]}`). */
export const redriveBatch = defineHttp({
  name: 'redriveBatch',
  route: 'batches/{batchId}/redrive',
  methods: ['POST'],
  authLevel: 'function',
  callerRole: 'submit',
  handler: (deps) => async (request) => {
    const { batchId } = parseOrProblem(z.object({ batchId: batchIdSchema }), request.params);
    const text = Buffer.from(await readRawBody(request))
      .toString('utf8')
      .trim();
    let body: unknown = {};
    try {
      if (text) body = JSON.parse(text);
    } catch {
      throw problems.invalidRequest('The body is not JSON: send nothing, or {"ids": ["<invitation id>", ...]}.');
    }
    const answer = await deps.batchRedrive.redrive(batchId, parseOrProblem(redriveRequestSchema, body));
    return jsonResponse(answer.items.length > 0 ? 202 : 400, answer);
  },
});
