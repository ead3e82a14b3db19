import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startAzurite } from '../local/azurite';
import { benchIntake } from './intake';

/**
 * `npm run bench`: every benchmark, each figure the median of repeated runs beside a baseline
 * measured in the same run (the machine is shared and noisy; ratios travel, absolute figures less).
 * Results go to bench/results/latest.json.
 */
async function main() {
  const azurite = await startAzurite();
  try {
    const intake = await benchIntake(azurite.connectionString);
    const results = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, at: new Date().toISOString(), intake };
    const folder = path.join(__dirname, 'results');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log('Intake: a 1,000-item JSON batch through the real handler against Azurite');
    console.table({
      'answer time (median ms)': { value: intake.answerMsMedian, target: `≤ ${intake.targets.answerMsAtMost}` },
      'intake items/s': { value: intake.intakeItemsPerSecond, target: '' },
      'raw 16-way sendMessage items/s (baseline)': { value: intake.rawSendItemsPerSecond, target: '' },
      'ratio intake / baseline': { value: intake.ratio, target: `≥ ${intake.targets.ratioAtLeast}` },
    });
    console.log(intake.met ? 'Intake targets met.' : 'Intake targets NOT met.');
  } finally {
    await azurite.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
