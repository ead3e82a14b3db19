import os from 'node:os';
import path from 'node:path';
import { startAzurite } from '../local/azurite';
import { localCertificateFolder } from '../local/appRoot';
import { decideLocalTrust, restartTrusting } from '../local/trustLocalCertificate';
import { benchIntake } from './intake';
import { benchEndToEnd } from './endToEnd';
import { benchHostMemory } from './hostMemory';
import { writeReport, type BenchResults } from './report';
import { benchRoster } from './roster';
import { benchWorker } from './worker';
import { benchPacing } from './pacing';
import { benchBatchPage } from './batchPage';
import { benchPlan } from './plan';

/**
 * `npm run bench [-- intake|worker|endToEnd|memory|roster|pacing|batchPage|plan ...]`: the benchmarks, each figure the median of repeated runs
 * beside a baseline measured in the same run (the machine is shared and noisy: ratios travel,
 * absolute figures less). Writes bench/results/latest.json. BENCH_RUNS overrides the run count.
 */
async function main() {
  // The benchmarks run against the emulator: trust its local CA (beside any CA the user trusts).
  const trust = await decideLocalTrust(process.env, localCertificateFolder());
  if (trust.kind === 'restart') return restartTrusting(trust.bundlePath);
  const { certificate } = trust;
  const selected = new Set(process.argv.slice(2));
  const wants = (name: string) => selected.size === 0 || selected.has(name);
  const runs = process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined;

  const azurite = await startAzurite();
  const results: BenchResults = {
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    at: new Date().toISOString(),
  };
  try {
    if (wants('intake')) {
      const intake = (results.intake = await benchIntake(azurite.connectionString, runs));
      console.log('\nIntake: a 1,000-item JSON batch through the real handler against Azurite');
      console.table({
        'answer time (median ms)': { value: intake.answerMsMedian, target: `≤ ${intake.targets.answerMsAtMost}` },
        'intake items/s': { value: intake.intakeItemsPerSecond, target: '' },
        'raw 16-way sendMessage items/s (baseline)': { value: intake.rawSendItemsPerSecond, target: '' },
        'ratio intake / baseline': { value: intake.ratio, target: `≥ ${intake.targets.ratioAtLeast}` },
        'with an externalId on every item: answer time (ms)': { value: intake.withExternalId.answerMsMedian, target: '' },
        'with an externalId on every item: ratio': { value: intake.withExternalId.ratio, target: '' },
      });
      console.log(intake.met ? 'Intake targets met.' : 'Intake targets NOT met.');
    }
    if (wants('worker')) {
      const items = process.env.BENCH_WORKER_ITEMS ? Number(process.env.BENCH_WORKER_ITEMS) : undefined;
      const worker = (results.worker = await benchWorker(azurite.connectionString, certificate, {
        ...(runs ? { runs } : {}),
        ...(items ? { items } : {}),
      }));
      console.log(
        `\nWorker: ${worker.items} queued invitations against the emulator (${worker.budgetPerSecond} writes/s, ${worker.latencyMs} ms latency)`,
      );
      console.table({
        'invitations/s (median)': { value: worker.invitationsPerSecond, target: '' },
        '% of budget': { value: worker.percentOfBudget, target: `≥ ${worker.targets.percentOfBudgetAtLeast}` },
        'share of calls answered 429': { value: worker.throttledShare, target: `≤ ${worker.targets.throttledShareAtMost}` },
        'sequential loop invitations/s (baseline)': { value: worker.sequentialPerSecond, target: '' },
        'speed-up over the sequential loop': { value: worker.speedUp, target: '' },
      });
      if (worker.withFollowUp) {
        const follow = worker.withFollowUp;
        console.log(`\nWorker with a group add and our own email for each of ${follow.items} people (mailbox: 30 a minute)`);
        console.table({
          'invitations/s (median)': { value: follow.invitationsPerSecond, target: '' },
          'group adds/s (median)': { value: follow.groupAddsPerSecond, target: '' },
          '% of the budget the group adds leave': { value: follow.percentOfBudgetLeft, target: '≥ 95' },
          'share of identity writes answered 429': { value: follow.throttledShare, target: '≤ 0.01' },
          'emails sent during the run (the rest wait, Pending)': { value: follow.emailsSent, target: '' },
          'mailbox answers 429': { value: follow.mailboxThrottled, target: '0' },
        });
      }
      console.log(worker.met ? 'Worker targets met.' : 'Worker targets NOT met.');
    }
    if (wants('endToEnd')) {
      const endToEnd = (results.endToEnd = await benchEndToEnd(azurite.connectionString, certificate));
      console.log(`\nEnd to end at low load: POST /api/invitations → Invited, one person at a time (${endToEnd.samples} samples)`);
      console.table({
        'p50 (ms)': { value: endToEnd.p50Ms },
        'p95 (ms)': { value: endToEnd.p95Ms },
        'one direct Graph call, p50 (baseline, ms)': { value: endToEnd.directCallP50Ms },
      });
    }
    if (wants('memory')) {
      const hostMemory = (results.hostMemory = await benchHostMemory(certificate, runs ? { runs } : {}));
      console.log(`\nLocal host memory with a ${hostMemory.backlog}-message backlog`);
      console.table({ 'idle RSS (baseline, MiB)': { value: hostMemory.idleRssMiB }, 'peak RSS (MiB)': { value: hostMemory.peakRssMiB } });
    }
    if (wants('roster')) {
      const roster = (results.roster = await benchRoster(runs ? { runs } : {}));
      console.log(
        `\nPartner onboarding: a ${roster.rows}-row roster (${roster.rosterMiB} MiB CSV) streamed from blob storage into the intake (medians of ${roster.runs} runs)`,
      );
      console.table({
        'rows/s': { value: roster.rowsPerSecond },
        [`rows/s for ${roster.baselineRows} rows (baseline)`]: { value: roster.baselineRowsPerSecond },
        'peak memory above resting (MiB)': { value: roster.peakMemoryMiB },
        [`peak memory for ${roster.baselineRows} rows (baseline, MiB)`]: { value: roster.baselinePeakMemoryMiB },
        'memory ratio (10x the rows)': { value: roster.memoryRatio },
      });
    }
    if (wants('batchPage')) {
      console.log('\nBatch status: counts and a page of 100 people against one record, by batch size');
      const batchPage = (results.batchPage = await benchBatchPage(runs ? { samples: runs } : {}));
      console.table(
        Object.fromEntries(
          batchPage.sizes.map((size) => [
            `${size.people} people`,
            { 'batch page (median ms)': size.batchPageMs, 'one record (median ms)': batchPage.singleRecordMs, ratio: size.ratio },
          ]),
        ),
      );
      console.log(batchPage.met ? 'Batch page target met.' : 'Batch page target NOT met.');
    }
    if (wants('plan')) {
      const plan = (results.plan = await benchPlan(azurite.connectionString, certificate, runs ? { runs } : {}));
      console.log(`\nPlan: ${plan.rows} rows, half already guests, in requests of 1,000, at ${plan.readsPerSecond} reads/s`);
      console.table({
        'plan time (median ms)': { value: plan.planMsMedian },
        'ms per row': { value: plan.msPerRow },
        'Graph reads per row': { value: plan.graphReadsPerRow, target: '≤ 1.01' },
        'reads answered 429': { value: plan.readsThrottled, target: '0' },
        'the reads alone at that pace (baseline ms)': { value: plan.baselineMs },
        'ratio plan / baseline': { value: plan.ratio },
      });
      console.log(plan.met ? 'Plan targets met.' : 'Plan targets NOT met.');
    }
    if (wants('pacing')) {
      console.log('\nPacing: rate against the capacity Graph grants, one to eight instances');
      const pacing = (results.pacing = await benchPacing(certificate, {
        ...(runs ? { runs } : {}),
        ...(process.env.BENCH_PACING_ONLY ? { only: process.env.BENCH_PACING_ONLY } : {}),
      }));
      console.table(
        Object.fromEntries(
          pacing.map((scenario) => [
            scenario.name,
            {
              'rate ÷ capacity': scenario.shareOfCapacity,
              '429 share': scenario.throttledShare,
              'settled (ms)': scenario.settleMs ?? '',
              'least fair share': scenario.leastFairShare ?? '',
              met: scenario.met,
            },
          ]),
        ),
      );
    }
  } finally {
    await azurite.stop();
  }
  writeReport(results, path.join(__dirname, 'results'));
  console.log('\nWrote bench/results/latest.json, latest.md and worker-throughput.svg.');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
