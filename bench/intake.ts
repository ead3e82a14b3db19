import { randomBytes } from 'node:crypto';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { submitInvitations } from '../functions/submitInvitations';
import { mapWithConcurrency } from '../shared/core';
import { createAppDependencies } from '../shared/appDependencies';
import { encodeQueueMessage, storageAccountFromSettings, type StorageAccount } from '../shared/storage';
import { loadSettings, type Settings } from '../shared/settings';
import { median, round, timed } from './measure';

/**
 * Intake: time to answer a 1,000-item JSON batch through the real handler against Azurite, and
 * its items/s against a baseline measured in the same run: 1,000 raw `sendMessage` calls, 16 in
 * parallel, against the same Azurite (the least any intake must do: one message per person).
 * Measured twice, interleaved: invitations as Graph takes them, and the same with an `externalId`
 * on every item (which costs one more index row per person, so that it can be searched).
 */

const ITEMS = 1_000;

export interface IntakeBenchResult {
  items: number;
  runs: number;
  answerMsMedian: number;
  intakeItemsPerSecond: number;
  rawSendItemsPerSecond: number;
  ratio: number;
  /** The same batch with an externalId on every item. */
  withExternalId: { answerMsMedian: number; intakeItemsPerSecond: number; ratio: number };
  targets: { answerMsAtMost: number; ratioAtLeast: number };
  met: boolean;
}

export async function benchIntake(connectionString: string, runs = 7): Promise<IntakeBenchResult> {
  const settings = loadSettings({ AzureWebJobsStorage: connectionString });
  const storage = storageAccountFromSettings(settings);
  const answerMs: number[] = [];
  const answerWithExternalIdMs: number[] = [];
  const rawMs: number[] = [];
  for (let run = 0; run < runs + 1; run += 1) {
    // Fresh queue and table each run: Azurite's queue slows as it deepens (see docs/performance.md).
    const suffix = randomBytes(4).toString('hex');
    const rawQueue = storage.queueClient(`raw-${suffix}`);
    await rawQueue.create();
    const raw = await timed(() =>
      mapWithConcurrency(
        Array.from({ length: ITEMS }, (_, i) => i),
        16,
        (i) => rawQueue.sendMessage(encodeQueueMessage({ id: randomBytes(16).toString('hex'), batchId: 'raw', queuedAt: String(i) })),
      ),
    );
    await rawQueue.delete();
    const plain = await answerBatch(settings, storage, `${suffix}a`, false);
    const keyed = await answerBatch(settings, storage, `${suffix}b`, true);
    if (run === 0) continue; // warm-up: JIT, connection pools
    answerMs.push(plain);
    answerWithExternalIdMs.push(keyed);
    rawMs.push(raw.ms);
  }
  const answerMsMedian = median(answerMs);
  const intakeItemsPerSecond = ITEMS / (answerMsMedian / 1000);
  const rawSendItemsPerSecond = ITEMS / (median(rawMs) / 1000);
  const ratio = intakeItemsPerSecond / rawSendItemsPerSecond;
  const targets = { answerMsAtMost: 1000, ratioAtLeast: 0.7 };
  const keyedMedian = median(answerWithExternalIdMs);
  return {
    items: ITEMS,
    runs,
    answerMsMedian: round(answerMsMedian, 1),
    intakeItemsPerSecond: round(intakeItemsPerSecond, 0),
    rawSendItemsPerSecond: round(rawSendItemsPerSecond, 0),
    ratio: round(ratio, 3),
    withExternalId: {
      answerMsMedian: round(keyedMedian, 1),
      intakeItemsPerSecond: round(ITEMS / (keyedMedian / 1000), 0),
      ratio: round(ITEMS / (keyedMedian / 1000) / rawSendItemsPerSecond, 3),
    },
    targets,
    met: answerMsMedian <= targets.answerMsAtMost && ratio >= targets.ratioAtLeast,
  };
}

/** Answers one 1,000-item batch through the real HTTP handler; ms to the 202. */
async function answerBatch(settings: Settings, storage: StorageAccount, suffix: string, withExternalId: boolean): Promise<number> {
  const deps = await createAppDependencies(settings, { queueName: `intake-${suffix}`, tableName: `intake${suffix}` }, storage);
  const body = JSON.stringify({
    invitations: Array.from({ length: ITEMS }, (_, i) => ({
      invitedUserEmailAddress: `person${i}.${suffix}@fabrikam.com`,
      inviteRedirectUrl: 'https://myapps.microsoft.com',
      ...(withExternalId ? { externalId: `HR-${suffix}-${i}` } : {}),
    })),
  });
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/invitations',
    headers: { 'content-type': 'application/json' },
    body: { string: body },
  });
  const answered = await timed(async () => (await submitInvitations.handler(deps)(request, new InvocationContext())) as HttpResponseInit);
  if (answered.value.status !== 202) throw new Error(`Intake answered ${answered.value.status}`);
  await deps.queue.queue.delete();
  await deps.queue.poisonQueue.delete();
  await deps.store.layout.client.deleteTable();
  return answered.ms;
}
