import { randomBytes } from 'node:crypto';
import { appRoot } from '../local/appRoot';
import { GROUP_MEMBER_READ_WRITE_ALL, MAIL_SEND, USER_INVITE_ALL, type GraphEmulator } from '../local/graphEmulator/graphEmulator';
import type { LocalCertificate } from '../local/graphEmulator/localCertificate';
import { readQueueTriggerSettings } from '../local/hostJson';
import { QueueListener } from '../local/queueListener';
import { processInvitation } from '../functions/processInvitation';
import { createAppDependencies } from '../shared/appDependencies';
import { graphCaller, graphEndpoints, GraphInvitationsClient } from '../shared/graph';
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
  /** The same, with a group add and our own email for every person (groupsAndMail). */
  withFollowUp?: FollowUpBenchResult;
}

export interface FollowUpBenchResult {
  items: number;
  invitationsPerSecond: number;
  groupAddsPerSecond: number;
  /** Invitations/s as % of the write budget the group adds leave. */
  percentOfBudgetLeft: number;
  /** Of every identity write (invitations and group adds), the share answered 429. */
  throttledShare: number;
  emailsSent: number;
  mailboxThrottled: number;
  met: boolean;
}

const SENDER = 'invitations@contoso.com';
const GROUP = '6b4a1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d';

export async function benchWorker(
  connectionString: string,
  certificate: LocalCertificate,
  { items = 2_000, runs = 3, sequentialItems = 30, followUpItems = 1_000 } = {},
): Promise<WorkerBenchResult> {
  const plain = await benchPlainWorker(connectionString, certificate, { items, runs, sequentialItems });
  const withFollowUp = await benchFollowUp(connectionString, certificate, { items: followUpItems, runs });
  return { ...plain, withFollowUp, met: plain.met && withFollowUp.met };
}

/**
 * Every person joins a group and gets our own email (INVITE_DELIVERY=mail): group adds share the
 * write budget with invitations, the mailbox keeps Exchange's 30 a minute. Targets: invitations at
 * ≥ 95% of the budget the group adds leave, ≤ 1% of identity writes answered 429, no mailbox
 * throttled (the emails beyond the mailbox's minute wait, Pending, and go later).
 */
export async function benchFollowUp(
  connectionString: string,
  certificate: LocalCertificate,
  { items, runs }: { items: number; runs: number },
) {
  const { emulator, graphSettings } = await startBenchTenant(
    certificate,
    { latencyMs: 300, writeBudget: { limit: BUDGET_PER_SECOND * 10, windowMs: 10_000 } },
    [USER_INVITE_ALL, GROUP_MEMBER_READ_WRITE_ALL, MAIL_SEND],
  );
  const settings = loadSettings({
    AzureWebJobsStorage: connectionString,
    ...graphSettings,
    GRAPH_MAX_WRITES_PER_SECOND: String(BUDGET_PER_SECOND),
    INVITE_ALLOWED_GROUPS: GROUP,
    INVITE_DELIVERY: 'mail',
    INVITE_SENDER: SENDER,
    INVITE_BRAND_NAME: 'Contoso',
  });
  try {
    const measured: Omit<FollowUpBenchResult, 'items' | 'met' | 'percentOfBudgetLeft'>[] = [];
    for (let run = 0; run < runs; run += 1) {
      emulator.reset();
      emulator.directory.mailboxes.add(SENDER);
      emulator.directory.groups.set(GROUP, new Set());
      emulator.directory.mailboxPerMinute = 30; // Exchange Online's messages a minute for one mailbox
      emulator.directoryWrites = 0;
      emulator.directoryWriteTimes.length = 0;
      emulator.directoryWritesThrottled = 0;
      emulator.directory.mailboxThrottled = 0;
      await new Promise((resolve) => setTimeout(resolve, 10_000 * Number(run > 0)));
      await runPipeline(settings, emulator, items, { groups: [GROUP], sendInvitationMessage: true });
      // Both rates over the same span, from the first identity write to the last: the group adds of
      // the last people invited, after the last invitation, are part of the work.
      const invited = emulator.calls.filter((call) => call.status === 201).map((call) => call.at);
      const writeTimes = [...invited, ...emulator.directoryWriteTimes];
      const span = (Math.max(...writeTimes) - Math.min(...writeTimes)) / 1000;
      const rate = invited.length / span;
      const groupAddsPerSecond = emulator.directoryWrites / span;
      const writes = emulator.calls.length + emulator.directoryWrites + emulator.directoryWritesThrottled;
      const throttled = emulator.calls.filter((call) => call.status === 429).length + emulator.directoryWritesThrottled;
      measured.push({
        invitationsPerSecond: rate,
        groupAddsPerSecond,
        throttledShare: throttled / writes,
        emailsSent: emulator.directory.outbox.length,
        mailboxThrottled: emulator.directory.mailboxThrottled,
      });
    }
    const invitationsPerSecond = median(measured.map((m) => m.invitationsPerSecond));
    const groupAddsPerSecond = median(measured.map((m) => m.groupAddsPerSecond));
    const throttledShare = median(measured.map((m) => m.throttledShare));
    const percentOfBudgetLeft = (invitationsPerSecond / (BUDGET_PER_SECOND - groupAddsPerSecond)) * 100;
    const mailboxThrottled = Math.max(...measured.map((m) => m.mailboxThrottled));
    return {
      items,
      invitationsPerSecond: round(invitationsPerSecond),
      groupAddsPerSecond: round(groupAddsPerSecond),
      percentOfBudgetLeft: round(percentOfBudgetLeft, 1),
      throttledShare: round(throttledShare, 4),
      emailsSent: Math.round(median(measured.map((m) => m.emailsSent))),
      mailboxThrottled,
      met: percentOfBudgetLeft >= 95 && throttledShare <= 0.01 && mailboxThrottled === 0,
    };
  } finally {
    await emulator.stop();
  }
}

async function benchPlainWorker(
  connectionString: string,
  certificate: LocalCertificate,
  { items, runs, sequentialItems }: { items: number; runs: number; sequentialItems: number },
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

async function runPipeline(
  settings: ReturnType<typeof loadSettings>,
  emulator: GraphEmulator,
  items: number,
  extra: { groups?: string[]; sendInvitationMessage?: boolean } = {},
) {
  const suffix = randomBytes(4).toString('hex');
  const deps = await createAppDependencies(settings, { queueName: `bench-${suffix}`, tableName: `bench${suffix}` });
  for (let start = 0; start < items; start += 1_000) {
    const invitations = Array.from({ length: Math.min(1_000, items - start) }, (_, i) => ({
      invitedUserEmailAddress: `partner${start + i}.${suffix}@fabrikam.com`,
      inviteRedirectUrl: 'https://myapps.microsoft.com',
      ...extra,
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
  await Promise.all([deps.queue.queue.delete(), deps.queue.poisonQueue.delete(), deps.store.layout.client.deleteTable()]);

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
  const span = (accepted.at(-1)! - accepted[0]!) / 1000;
  return { rate, throttledShare, span, timeline: Array.from(timeline, (count) => count ?? 0) };
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
