import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { getBatch } from '../functions/getBatch';
import { getInvitation } from '../functions/getInvitation';
import { submitInvitations } from '../functions/submitInvitations';
import type { HttpFunctionDefinition } from '../functions/runtime/defineFunction';
import { startAzurite } from '../local/azurite';
import { createAppDependencies, type AppDependencies } from '../shared/appDependencies';
import { mapWithConcurrency } from '../shared/core';
import { loadSettings } from '../shared/settings';
import { median, round, timed } from './measure';

/**
 * Batch status at any size: GET /api/batches/{id} (counts and a page of 100 people) for batches of
 * 1,000, 10,000 and 50,000 people, against GET /api/invitations/{id} (one record) in the same run
 * as the baseline. The target: the batch answers within 3× the single record, at every size.
 *
 * The batches are built the way they arise: through the intake, 1,000 people per request, then a
 * tenth of each batch's people given an outcome through the store, as the worker writes them (so
 * the ledger's counts move). Requests go through the real handlers, their answers serialized as
 * the host would; the two kinds are interleaved so that a noisy moment lands on both alike.
 */

export const BATCH_SIZES = [1_000, 10_000, 50_000] as const;
const PER_REQUEST = 1_000;
const SAMPLES = 40;
const TARGET_RATIO = 3;

export interface BatchPageBenchResult {
  samples: number;
  singleRecordMs: number;
  sizes: { people: number; batchPageMs: number; ratio: number; pageItems: number }[];
  targets: { ratioAtMost: number };
  met: boolean;
}

async function call(
  definition: HttpFunctionDefinition,
  deps: AppDependencies,
  path: string,
  params: Record<string, string>,
  body?: string,
) {
  const request = new HttpRequest({
    method: body ? 'POST' : 'GET',
    url: `http://localhost:7071${path}`,
    headers: body ? { 'content-type': 'application/json' } : {},
    params,
    ...(body ? { body: { string: body } } : {}),
  });
  const response = (await definition.handler(deps)(request, new InvocationContext({ functionName: definition.name }))) as HttpResponseInit;
  const text = response.jsonBody !== undefined ? JSON.stringify(response.jsonBody) : String(response.body ?? '');
  if ((response.status ?? 200) >= 300) throw new Error(`${path}: ${response.status} ${text.slice(0, 200)}`);
  return text;
}

async function buildBatch(deps: AppDependencies, people: number): Promise<string[]> {
  const batchId = `bench-${people}`;
  const ids: string[] = [];
  for (let start = 0; start < people; start += PER_REQUEST) {
    const invitations = Array.from({ length: Math.min(PER_REQUEST, people - start) }, (_, i) => ({
      invitedUserEmailAddress: `p${start + i}.b${people}@fabrikam.com`,
      inviteRedirectUrl: 'https://myapps.microsoft.com',
    }));
    const answer = JSON.parse(await call(submitInvitations, deps, '/api/invitations', {}, JSON.stringify({ batchId, invitations }))) as {
      items: { id: string }[];
    };
    ids.push(...answer.items.map((item) => item.id));
  }
  console.log(`  submitted ${people} people`);
  // A tenth of the people with an outcome, written as the worker writes them.
  await mapWithConcurrency(
    ids.filter((_, i) => i % 10 === 0),
    16,
    async (id, i) => {
      const stored = (await deps.store.getById(id))!;
      await deps.store.replace({ ...stored.entity, status: i % 5 === 0 ? 'Failed' : 'Invited', updatedAt: new Date().toISOString() });
    },
  );
  return ids;
}

export async function benchBatchPage({ samples = SAMPLES } = {}): Promise<BatchPageBenchResult> {
  const azurite = await startAzurite();
  try {
    const deps = await createAppDependencies(loadSettings({ AzureWebJobsStorage: azurite.connectionString }));
    const built = [];
    for (const people of BATCH_SIZES) {
      const started = Date.now();
      const ids = await buildBatch(deps, people);
      console.log(`  built a batch of ${people} people in ${Math.round((Date.now() - started) / 1000)} s`);
      built.push({ people, batchId: `bench-${people}`, someone: ids[Math.floor(ids.length / 2)]! });
      // The queue is no part of this benchmark: its messages are left (sending stays cheap at depth on
      // Azurite, while clearing 10,000 messages keeps it busy for minutes, removing them one by one).
    }
    const single: number[] = [];
    const pages = new Map<number, number[]>(BATCH_SIZES.map((people) => [people, []]));
    const pageItems = new Map<number, number>();
    for (let sample = 0; sample < samples + 1; sample += 1) {
      for (const { people, batchId, someone } of built) {
        const one = await timed(() => call(getInvitation, deps, `/api/invitations/${someone}`, { id: someone }));
        const page = await timed(() => call(getBatch, deps, `/api/batches/${batchId}`, { batchId }));
        if (sample === 0) continue; // the first round warms connections and caches
        single.push(one.ms);
        pages.get(people)!.push(page.ms);
        pageItems.set(people, (JSON.parse(page.value) as { items: unknown[] }).items.length);
      }
    }
    const singleRecordMs = median(single);
    const sizes = BATCH_SIZES.map((people) => {
      const batchPageMs = median(pages.get(people)!);
      return { people, batchPageMs: round(batchPageMs), ratio: round(batchPageMs / singleRecordMs), pageItems: pageItems.get(people)! };
    });
    return {
      samples,
      singleRecordMs: round(singleRecordMs),
      sizes,
      targets: { ratioAtMost: TARGET_RATIO },
      met: sizes.every((size) => size.ratio <= TARGET_RATIO),
    };
  } finally {
    await azurite.stop();
  }
}
