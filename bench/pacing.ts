import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, startAzurite } from '../local/azurite';
import type { WriteBudgetOptions } from '../local/graphEmulator/writeBudget';
import type { LocalCertificate } from '../local/graphEmulator/localCertificate';
import { createAppDependencies, DEFAULT_RESOURCE_NAMES } from '../shared/appDependencies';
import { loadSettings } from '../shared/settings';
import { startBenchTenant } from './benchTenant';
import { median, round } from './measure';

/**
 * Pacing: how much of Graph's capacity the worker holds, and how many 429s it meets, whatever the
 * limit's shape and however many instances share it. Each scenario runs real local hosts (separate
 * processes, as instances are) against one Azurite and the emulator with 300 ms answers, with a
 * backlog queued first; it measures the accepted rate after a warm-up, as a share of the capacity
 * left to the app, the share of calls answered 429, and for a change of capacity the time to settle.
 * After a change, the rate and the 429s are measured from the end of the settle allowance: the
 * calls in flight when capacity halves are refused whatever a pacer does, and the allowance is
 * what the settle target grants for that.
 */

const ROOT = path.join(__dirname, '..');
const LATENCY_MS = 300;
const WARM_UP_MS = 10_000;
const MEASURE_MS = 30_000;

export interface PacingScenario {
  name: string;
  processes: number;
  budget: (startedAt: number) => WriteBudgetOptions;
  /** Writes/s left to the app at a time after the start (another app may take part). */
  capacityAt: (msAfterStart: number) => number;
  /** For a change of capacity: when, after the start, it happens. */
  changeAtMs?: number;
  targets: { shareOfCapacityAtLeast: number; throttledShareAtMost: number; settleMsAtMost?: number; fairShareAtLeast?: number };
}

export const PACING_SCENARIOS: PacingScenario[] = [
  {
    name: 'one instance, 3,000 / 150 s window',
    processes: 1,
    budget: () => ({ limit: 3_000, windowMs: 150_000 }),
    capacityAt: () => 20,
    targets: { shareOfCapacityAtLeast: 0.95, throttledShareAtMost: 0.01 },
  },
  {
    name: 'one instance, strict 20 per 1 s window',
    processes: 1,
    budget: () => ({ limit: 20, windowMs: 1_000 }),
    capacityAt: () => 20,
    targets: { shareOfCapacityAtLeast: 0.95, throttledShareAtMost: 0.01 },
  },
  {
    name: 'one instance, another app takes 10/s of 20/s from mid-run',
    processes: 1,
    budget: (startedAt) => ({ limit: 20, windowMs: 1_000, otherApp: { writesPerSecond: 10, from: startedAt + WARM_UP_MS + 5_000 } }),
    capacityAt: (ms) => (ms >= WARM_UP_MS + 5_000 ? 10 : 20),
    changeAtMs: WARM_UP_MS + 5_000,
    targets: { shareOfCapacityAtLeast: 0.95, throttledShareAtMost: 0.01, settleMsAtMost: 10_000 },
  },
  ...[2, 4, 8].map((processes) => ({
    name: `${processes} worker processes, strict 20 per 1 s window`,
    processes,
    budget: () => ({ limit: 20, windowMs: 1_000 }),
    capacityAt: () => 20,
    targets: { shareOfCapacityAtLeast: 0.9, throttledShareAtMost: 0.02, fairShareAtLeast: 0.5 },
  })),
];

export interface PacingScenarioResult {
  name: string;
  processes: number;
  runs: number;
  shareOfCapacity: number;
  throttledShare: number;
  settleMs?: number;
  /** The least any process got, as a share of its fair share (1 / processes of what all got). */
  leastFairShare?: number;
  /** Accepted writes per second of the median run, from the start, with the capacity left to the app. */
  timeline: { accepted: number; capacity: number }[];
  targets: PacingScenario['targets'];
  met: boolean;
}

export async function benchPacing(
  certificate: LocalCertificate,
  { runs = 3, only }: { runs?: number; only?: string } = {},
): Promise<PacingScenarioResult[]> {
  const results: PacingScenarioResult[] = [];
  for (const scenario of PACING_SCENARIOS.filter((candidate) => !only || candidate.name.includes(only))) {
    const measured: Omit<PacingScenarioResult, 'name' | 'processes' | 'runs' | 'targets' | 'met'>[] = [];
    for (let run = 0; run < runs; run += 1) {
      measured.push(await runScenario(scenario, certificate));
      console.log(
        `  ${scenario.name}, run ${run + 1}: ${round(measured.at(-1)!.shareOfCapacity * 100, 1)}% of capacity, ${round(measured.at(-1)!.throttledShare * 100, 2)}% 429`,
      );
    }
    const middle = [...measured].sort((a, b) => a.shareOfCapacity - b.shareOfCapacity)[Math.floor(measured.length / 2)]!;
    const settles = measured.map((m) => m.settleMs).filter((ms): ms is number => ms !== undefined);
    const fairness = measured.map((m) => m.leastFairShare).filter((share): share is number => share !== undefined);
    const result: PacingScenarioResult = {
      name: scenario.name,
      processes: scenario.processes,
      runs,
      shareOfCapacity: round(median(measured.map((m) => m.shareOfCapacity)), 4),
      throttledShare: round(median(measured.map((m) => m.throttledShare)), 4),
      ...(settles.length > 0 ? { settleMs: Math.round(median(settles)) } : {}),
      ...(fairness.length > 0 ? { leastFairShare: round(median(fairness), 3) } : {}),
      timeline: middle.timeline,
      targets: scenario.targets,
      met: false,
    };
    const { targets } = scenario;
    result.met =
      result.shareOfCapacity >= targets.shareOfCapacityAtLeast &&
      result.throttledShare <= targets.throttledShareAtMost &&
      (targets.settleMsAtMost === undefined || (result.settleMs ?? Number.POSITIVE_INFINITY) <= targets.settleMsAtMost) &&
      (targets.fairShareAtLeast === undefined || (result.leastFairShare ?? 0) >= targets.fairShareAtLeast);
    results.push(result);
  }
  return results;
}

async function runScenario(scenario: PacingScenario, certificate: LocalCertificate) {
  const azurite = await startAzurite();
  const startedAt = Date.now();
  const { emulator, graphSettings } = await startBenchTenant(certificate, {
    latencyMs: LATENCY_MS,
    writeBudget: scenario.budget(startedAt),
  });
  const hosts: { child: ChildProcess; invitedAt: number[] }[] = [];
  try {
    const settings = loadSettings({ AzureWebJobsStorage: azurite.connectionString, ...graphSettings });
    const deps = await createAppDependencies(settings, DEFAULT_RESOURCE_NAMES);
    // Enough for the whole run at full capacity, and for what the first hosts take while the others start.
    const backlog = (20 * (WARM_UP_MS + MEASURE_MS + (scenario.changeAtMs ?? 0) + 60_000)) / 1000;
    for (let start = 0; start < backlog; start += 1_000) {
      const invitations = Array.from({ length: Math.min(1_000, backlog - start) }, (_, i) => ({
        invitedUserEmailAddress: `pacing${start + i}@fabrikam.com`,
        inviteRedirectUrl: 'https://myapps.microsoft.com',
      }));
      await deps.intake.submit({ contentType: 'application/json', body: Buffer.from(JSON.stringify({ invitations })) });
    }
    deps.credentialCircuit.dispose();
    const env = { ...process.env, AzureWebJobsStorage: azurite.connectionString, ...graphSettings, GRAPH_MAX_WRITES_PER_SECOND: '20' };
    await Promise.all(Array.from({ length: scenario.processes }, async () => hosts.push(await startHost(env))));
    // The budget's clock starts when every instance is up.
    emulator.reset();
    const begin = Date.now();
    if (scenario.changeAtMs !== undefined) emulator.configure({ writeBudget: scenario.budget(begin) });
    const measureFromMs = scenario.changeAtMs === undefined ? WARM_UP_MS : scenario.changeAtMs + scenario.targets.settleMsAtMost!;
    await new Promise((resolve) => setTimeout(resolve, measureFromMs + MEASURE_MS));
    const end = Date.now();
    // The calls that arrived before the end are answered LATENCY_MS later: until then they have no
    // status, and counting at once left the last 300 ms's (1% of the measure) out of the accepted.
    await new Promise((resolve) => setTimeout(resolve, LATENCY_MS + 500));
    const from = begin + measureFromMs;
    const measuredCalls = emulator.calls.filter((call) => call.at >= from && call.at < end);
    const accepted = measuredCalls.filter((call) => call.status === 201).length;
    const capacity = scenario.capacityAt(from - begin);
    const shareOfCapacity = accepted / ((end - from) / 1000) / capacity;
    const throttledShare =
      measuredCalls.length === 0 ? 0 : measuredCalls.filter((call) => call.status === 429).length / measuredCalls.length;

    const timeline: { accepted: number; capacity: number }[] = [];
    for (let second = 0; second < Math.floor((end - begin) / 1000); second += 1) {
      const count = emulator.calls.filter(
        (call) => call.status === 201 && call.at >= begin + second * 1000 && call.at < begin + (second + 1) * 1000,
      ).length;
      timeline.push({ accepted: count, capacity: scenario.capacityAt(second * 1000) });
    }
    const settleMs = scenario.changeAtMs === undefined ? undefined : settleTime(timeline, scenario.changeAtMs);
    const fair = measuredCalls.length === 0 ? undefined : leastFairShare(hosts, from, end);
    return {
      shareOfCapacity,
      throttledShare,
      timeline,
      ...(settleMs !== undefined ? { settleMs } : {}),
      ...(scenario.processes > 1 && fair !== undefined ? { leastFairShare: fair } : {}),
    };
  } finally {
    for (const host of hosts) host.child.kill('SIGKILL');
    await emulator.stop();
    await azurite.stop();
  }
}

/**
 * After the change: the time until the rate over the last 3 s is within 10% of the new capacity,
 * and stays so. (The 429s after it are counted in the scenario's 429 share; an occasional one is
 * how a pacer learns that capacity has not come back.)
 */
function settleTime(timeline: { accepted: number; capacity: number }[], changeAtMs: number): number {
  const changeSecond = Math.ceil(changeAtMs / 1000);
  const calm = (second: number) => {
    const window = timeline.slice(second - 2, second + 1);
    const rate = window.reduce((sum, s) => sum + s.accepted, 0) / window.length;
    return Math.abs(rate - timeline[second]!.capacity) <= 0.1 * timeline[second]!.capacity;
  };
  for (let second = changeSecond + 2; second < timeline.length; second += 1) {
    if (timeline.slice(second).every((_, offset) => second + offset >= timeline.length - 1 || calm(second + offset)))
      return (second - changeSecond) * 1000;
  }
  return Number.POSITIVE_INFINITY;
}

function leastFairShare(hosts: { invitedAt: number[] }[], from: number, end: number): number {
  const counts = hosts.map((host) => host.invitedAt.filter((at) => at >= from && at < end).length);
  const fair = counts.reduce((sum, count) => sum + count, 0) / hosts.length;
  return fair === 0 ? 0 : Math.min(...counts) / fair;
}

/** A local host as `npm start` runs it, recording when it logged each Invited outcome. */
async function startHost(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; invitedAt: number[] }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(ROOT, 'local', 'start.ts')], {
    cwd: ROOT,
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const invitedAt: number[] = [];
  let pending = '';
  let ready: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.includes('Ready.')) ready();
      if (line.includes(' Invited, graphRequestId=')) invitedAt.push(Date.now());
    }
  });
  child.stderr!.resume();
  await Promise.race([
    isReady,
    new Promise((_, reject) => setTimeout(() => reject(new Error('A local host was not ready in 60 s.')), 60_000)),
  ]);
  return { child, invitedAt };
}
