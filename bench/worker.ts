import { randomBytes } from 'node:crypto';
import { appRoot } from '../local/appRoot';
import type { GraphEmulator } from '../local/graphEmulator/graphEmulator';
import type { LocalCertificate } from '../local/graphEmulator/localCertificate';
import { readQueueTriggerSettings } from '../local/hostJson';
import { QueueListener } from '../local/queueListener';
import { processInvitation } from '../functions/processInvitation';
import { createAppDependencies } from '../shared/appDependencies';
import { graphCaller, graphEndpoints } from '../shared/graph/graphCaller';
import { GraphInvitationsClient } from '../shared/graph/graphInvitationsClient';
import { loadSettings } from '../shared/settings';
import { startBenchTenant } from './benchTenant';
import { median, round } from './measure';

/**
 * Worker: invitations/s through the whole worker path (queue trigger with host.json's settings,
 * claims, pacing, p-retry, Table outcomes) against the emulator at Graph's budget shape — 20
 * writes/s (200 per 10 s window) and 300 ms latency — as % of that budget and share of 429s.
 * Baseline, same run: a sequential one-at-a-time loop, as bulk-invite scripts do.
 */

const BUDGET_PER_SECOND = 20;

export interface WorkerBenchResult {
  items: number;
  runs: number;
  latencyMs: number;
  budgetPerSecond: number;
  invitationsPerSecond: number;
  percentOfBudget: number;
  throttledShare: number;
  sequentialPerSecond: number;
  speedUp: number;
  /** Invitations/s per second of the median run, for the chart. */
  timeline: number[];
  targets: { percentOfBudgetAtLeast: number; throttledShareAtMost: number };
  met: boolean;
}

export async function benchWorker(
  connectionString: string,
  certificate: LocalCertificate,
  { items = 2_000, runs = 3, sequentialItems = 30 } = {},
): Promise<WorkerBenchResult> {
  const { emulator, graphSettings } = await startBenchTenant(certificate, {
    latencyMs: 300,
    writeBudget: { limit: BUDGET_PER_SECOND * 10, windowMs: 10_000 },
  });
  const settings = loadSettings({
    AzureWebJobsStorage: connectionString,
    ...graphSettings,
    GRAPH_MAX_WRITES_PER_SECOND: String(BUDGET_PER_SECOND),
  });
  try {
    const measured: { rate: number; throttledShare: number; timeline: number[] }[] = [];
    for (let run = 0; run < runs; run += 1) {
      emulator.reset();
      // Let the previous run's writes leave the budget window, as a fresh start would.
      await new Promise((resolve) => setTimeout(resolve, 10_000 * Number(run > 0)));
      measured.push(await runPipeline(settings, emulator, items));
    }
    emulator.reset();
    const sequentialPerSecond = await runSequential(settings, sequentialItems);
    const ordered = [...measured].sort((a, b) => a.rate - b.rate);
    const middle = ordered[Math.floor(ordered.length / 2)]!;
    const invitationsPerSecond = median(measured.map((m) => m.rate));
    const throttledShare = median(measured.map((m) => m.throttledShare));
    const percentOfBudget = (invitationsPerSecond / BUDGET_PER_SECOND) * 100;
    const targets = { percentOfBudgetAtLeast: 95, throttledShareAtMost: 0.01 };
    return {
      items,
      runs,
      latencyMs: 300,
      budgetPerSecond: BUDGET_PER_SECOND,
      invitationsPerSecond: round(invitationsPerSecond),
      percentOfBudget: round(percentOfBudget, 1),
      throttledShare: round(throttledShare, 4),
      sequentialPerSecond: round(sequentialPerSecond),
      speedUp: round(invitationsPerSecond / sequentialPerSecond, 1),
      timeline: middle.timeline,
      targets,
      met: percentOfBudget >= targets.percentOfBudgetAtLeast && throttledShare <= targets.throttledShareAtMost,
    };
  } finally {
    await emulator.stop();
  }
}

async function runPipeline(settings: ReturnType<typeof loadSettings>, emulator: GraphEmulator, items: number) {
  const suffix = randomBytes(4).toString('hex');
  const deps = await createAppDependencies(settings, { queueName: `bench-${suffix}`, tableName: `bench${suffix}` });
  for (let start = 0; start < items; start += 1_000) {
    const invitations = Array.from({ length: Math.min(1_000, items - start) }, (_, i) => ({
      invitedUserEmailAddress: `partner${start + i}.${suffix}@fabrikam.com`,
      inviteRedirectUrl: 'https://myapps.microsoft.com',
    }));
    await deps.intake.submit({ contentType: 'application/json', body: Buffer.from(JSON.stringify({ invitations })) });
  }
  const listener = new QueueListener({
    ...readQueueTriggerSettings(appRoot()),
    functionName: processInvitation.name,
    queue: deps.queue.queue,
    poisonQueue: deps.queue.poisonQueue,
    handler: processInvitation.handler(deps),
    logHandler: () => undefined,
  });
  listener.start();
  while (emulator.calls.filter((call) => call.status === 201).length < items) await new Promise((resolve) => setTimeout(resolve, 250));
  await listener.stop();
  await Promise.all([deps.queue.queue.delete(), deps.queue.poisonQueue.delete(), deps.store.table.deleteTable()]);

  const accepted = emulator.calls
    .filter((call) => call.status === 201)
    .map((call) => call.at)
    .sort((a, b) => a - b);
  const rate = (accepted.length - 1) / ((accepted.at(-1)! - accepted[0]!) / 1000);
  const throttledShare = emulator.calls.filter((call) => call.status === 429).length / emulator.calls.length;
  const timeline: number[] = [];
  for (const at of accepted) {
    const second = Math.floor((at - accepted[0]!) / 1000);
    timeline[second] = (timeline[second] ?? 0) + 1;
  }
  return { rate, throttledShare, timeline: Array.from(timeline, (count) => count ?? 0) };
}

/** What a bulk-invite script does: one invitation after the other, each waiting for Graph. */
async function runSequential(settings: ReturnType<typeof loadSettings>, items: number): Promise<number> {
  const client = new GraphInvitationsClient(graphEndpoints(settings), graphCaller(settings));
  await client.createInvitation(
    {
      invitedUserEmailAddress: 'warmup@fabrikam.com',
      inviteRedirectUrl: 'https://myapps.microsoft.com',
      invitedUserType: 'Guest',
      sendInvitationMessage: false,
      resetRedemption: false,
    },
    30_000,
  );
  const started = Date.now();
  for (let i = 0; i < items; i += 1) {
    await client.createInvitation(
      {
        invitedUserEmailAddress: `sequential${i}@fabrikam.com`,
        inviteRedirectUrl: 'https://myapps.microsoft.com',
        invitedUserType: 'Guest',
        sendInvitationMessage: false,
        resetRedemption: false,
      },
      30_000,
    );
  }
  return items / ((Date.now() - started) / 1000);
}
