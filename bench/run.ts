import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAzurite } from '../local/azurite';
import { trustLocalCertificate } from '../local/trustLocalCertificate';
import { benchIntake, type IntakeBenchResult } from './intake';
import { benchRoster, type RosterBenchResult } from './roster';
import { benchWorker, type WorkerBenchResult } from './worker';

/**
 * `npm run bench [-- intake|worker ...]`: the benchmarks, each figure the median of repeated runs
 * beside a baseline measured in the same run (the machine is shared and noisy: ratios travel,
 * absolute figures less). Writes bench/results/latest.json. BENCH_RUNS overrides the run count.
 */
async function main() {
  const certificate = await trustLocalCertificate();
  if (!certificate) return; // started again, trusting the local certificate authority
  const selected = new Set(process.argv.slice(2));
  const wants = (name: string) => selected.size === 0 || selected.has(name);
  const runs = process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined;

  const azurite = await startAzurite();
  const results: { machine: object; at: string; intake?: IntakeBenchResult; worker?: WorkerBenchResult; roster?: RosterBenchResult } = {
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
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
      });
      console.log(intake.met ? 'Intake targets met.' : 'Intake targets NOT met.');
    }
    if (wants('worker')) {
      const items = process.env.BENCH_WORKER_ITEMS ? Number(process.env.BENCH_WORKER_ITEMS) : undefined;
      const worker = (results.worker = await benchWorker(azurite.connectionString, certificate, { ...(runs ? { runs } : {}), ...(items ? { items } : {}) }));
      console.log(`\nWorker: ${worker.items} queued invitations against the emulator (${worker.budgetPerSecond} writes/s, ${worker.latencyMs} ms latency)`);
      console.table({
        'invitations/s (median)': { value: worker.invitationsPerSecond, target: '' },
        '% of budget': { value: worker.percentOfBudget, target: `≥ ${worker.targets.percentOfBudgetAtLeast}` },
        'share of calls answered 429': { value: worker.throttledShare, target: `≤ ${worker.targets.throttledShareAtMost}` },
        'sequential loop invitations/s (baseline)': { value: worker.sequentialPerSecond, target: '' },
        'speed-up over the sequential loop': { value: worker.speedUp, target: '' },
      });
      console.log(worker.met ? 'Worker targets met.' : 'Worker targets NOT met.');
    }
    if (wants('roster')) {
      const roster = (results.roster = await benchRoster(azurite.connectionString));
      console.log(`\nPartner onboarding: a ${roster.rows}-row roster (${roster.rosterMiB} MiB CSV) streamed from blob storage into the intake`);
      console.table({
        'rows/s': { value: roster.rowsPerSecond },
        'peak memory above resting (MiB)': { value: roster.peakMemoryMiB },
        [`peak memory for ${roster.baselineRows} rows (baseline, MiB)`]: { value: roster.baselinePeakMemoryMiB },
        'memory ratio (10x the rows)': { value: roster.memoryRatio },
      });
    }
  } finally {
    await azurite.stop();
  }
  const folder = path.join(__dirname, 'results');
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
