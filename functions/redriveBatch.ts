import { redriveRequestSchema } from '../shared/batches/batchRedrive';
import { batchIdSchema, describeIssues } from '../shared/intake/submission';
import { problems } from '../shared/problem';
import { defineHttp } from './runtime/defineFunction';
import { jsonResponse, readRawBody } from './runtime/http';

/** POST /api/batches/{batchId}/redrive: submit the batch's Failed and DeadLettered people again (all, or `{"ids": [...]}`). */
export const redriveBatch = defineHttp({
  name: 'redriveBatch',
  route: 'batches/{batchId}/redrive',
  methods: ['POST'],
  authLevel: 'function',
  handler: (deps) => async (request) => {
    const batchId = batchIdSchema.safeParse(request.params.batchId);
    if (!batchId.success) throw problems.invalidRequest(`batchId ${describeIssues(batchId.error)[0]?.message}.`);
    const text = Buffer.from(await readRawBody(request))
      .toString('utf8')
      .trim();
    let body: unknown = {};
    try {
      if (text) body = JSON.parse(text);
    } catch {
      throw problems.invalidRequest('The body is not JSON: send nothing, or {"ids": ["<invitation id>", ...]}.');
    }
    const parsed = redriveRequestSchema.safeParse(body);
    if (!parsed.success) {
      const [first] = describeIssues(parsed.error);
      throw problems.invalidRequest(`${first?.path} ${first?.message}.`);
    }
    const { httpStatus, ...answer } = await deps.batchRedrive.redrive(batchId.data, parsed.data);
    return jsonResponse(httpStatus, answer);
  },
});
