import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BatchPageBenchResult } from './batchPage';
import type { EndToEndBenchResult } from './endToEnd';
import type { HostMemoryBenchResult } from './hostMemory';
import type { IntakeBenchResult } from './intake';
import type { PacingScenarioResult } from './pacing';
import type { PlanBenchResult } from './plan';
import type { RosterBenchResult } from './roster';
import type { WorkerBenchResult } from './worker';
import { round } from './measure';

/** Writes bench/results/: latest.json, latest.md (the tables docs/performance.md quotes) and the throughput chart. */

export interface BenchResults {
  machine: { cpus: number; cpuModel?: string; memoryGiB: number; node: string };
  at: string;
  intake?: IntakeBenchResult;
  worker?: WorkerBenchResult;
  endToEnd?: EndToEndBenchResult;
  hostMemory?: HostMemoryBenchResult;
  roster?: RosterBenchResult;
  pacing?: PacingScenarioResult[];
  batchPage?: BatchPageBenchResult;
  plan?: PlanBenchResult;
}

/** Writes the results, keeping from the previous latest.json the benchmarks this run did not repeat. */
export function writeReport(fresh: BenchResults, folder: string): void {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, 'latest.json');
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchResults) : undefined;
  const results: BenchResults = { ...previous, ...fresh };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(path.join(folder, 'latest.md'), markdown(results));
  if (results.worker) writeFileSync(path.join(folder, 'worker-throughput.svg'), throughputChart(results.worker));
  if (results.pacing) writeFileSync(path.join(folder, 'pacing.svg'), pacingChart(results.pacing));
}

const met = (ok: boolean) => (ok ? 'met' : '**not met**');

function markdown(results: BenchResults): string {
  const { machine, intake, worker, endToEnd, hostMemory, roster, pacing, batchPage, plan } = results;
  const lines = [
    `Measured ${results.at} on ${machine.cpus} cores (${machine.cpuModel ?? 'unknown CPU'}), ${machine.memoryGiB} GiB, Node ${machine.node}. Medians of repeated runs.`,
    '',
    '| benchmark | figure | baseline (same run) | ratio | target |',
    '|---|---|---|---|---|',
  ];
  if (intake) {
    lines.push(
      `| intake: answer a ${intake.items}-item JSON batch | ${intake.answerMsMedian} ms | | | ≤ ${intake.targets.answerMsAtMost} ms: ${met(intake.answerMsMedian <= intake.targets.answerMsAtMost)} |`,
    );
    lines.push(
      `| intake: items/s | ${intake.intakeItemsPerSecond} | raw 16-way sendMessage: ${intake.rawSendItemsPerSecond} | ${intake.ratio} | ≥ ${intake.targets.ratioAtLeast}: ${met(intake.ratio >= intake.targets.ratioAtLeast)} |`,
    );
    lines.push(
      `| intake, an externalId on every item (one more index row each) | ${intake.withExternalId.answerMsMedian} ms, ${intake.withExternalId.intakeItemsPerSecond} items/s | raw 16-way sendMessage: ${intake.rawSendItemsPerSecond} | ${intake.withExternalId.ratio} | |`,
    );
  }
  if (worker) {
    lines.push(
      `| worker: invitations/s (${worker.items} queued, ${worker.budgetPerSecond}/s budget, ${worker.latencyMs} ms latency) | ${worker.invitationsPerSecond} (${worker.percentOfBudget}% of budget) | sequential loop: ${worker.sequentialPerSecond} | ${worker.speedUp}× | ≥ ${worker.targets.percentOfBudgetAtLeast}%: ${met(worker.percentOfBudget >= worker.targets.percentOfBudgetAtLeast)} |`,
    );
    lines.push(
      `| worker: share of calls answered 429 | ${(worker.throttledShare * 100).toFixed(2)}% | | | ≤ ${worker.targets.throttledShareAtMost * 100}%: ${met(worker.throttledShare <= worker.targets.throttledShareAtMost)} |`,
    );
  }
  if (endToEnd) {
    lines.push(
      `| end to end: submit → Invited, low load (p50 / p95) | ${endToEnd.p50Ms} / ${endToEnd.p95Ms} ms | one direct Graph call: ${endToEnd.directCallP50Ms} ms | ${endToEnd.ratio}× | |`,
    );
  }
  if (hostMemory) {
    lines.push(
      `| local host: peak RSS with a ${hostMemory.backlog}-message backlog | ${hostMemory.peakRssMiB} MiB | idle: ${hostMemory.idleRssMiB} MiB | ${hostMemory.ratio}× | |`,
    );
  }
  if (roster) {
    const sizes = roster.rows / roster.baselineRows;
    lines.push(
      `| partner onboarding: ${roster.rows}-row roster (${roster.rosterMiB} MiB CSV), rows/s | ${roster.rowsPerSecond} | ${roster.baselineRows} rows: ${roster.baselineRowsPerSecond} | ${round(roster.rowsPerSecond / roster.baselineRowsPerSecond, 2)} | |`,
    );
    lines.push(
      `| partner onboarding: ${roster.rows}-row roster, peak memory above resting | +${roster.peakMemoryMiB} MiB | ${roster.baselineRows} rows: +${roster.baselinePeakMemoryMiB} MiB | ${roster.memoryRatio}× for ${sizes}× the rows | |`,
    );
  }
  if (batchPage) {
    for (const size of batchPage.sizes) {
      lines.push(
        `| batch status: GET /api/batches/{id}, counts and ${size.pageItems} people, batch of ${size.people} | ${size.batchPageMs} ms | one record (GET /api/invitations/{id}): ${batchPage.singleRecordMs} ms | ${size.ratio}× | ≤ ${batchPage.targets.ratioAtMost}×: ${met(size.ratio <= batchPage.targets.ratioAtMost)} |`,
      );
    }
  }
  if (plan) {
    lines.push(
      `| plan of ${plan.rows} rows, half already guests (${plan.readsPerSecond} reads/s) | ${plan.planMsMedian} ms (${plan.msPerRow} ms/row, ${plan.graphReadsPerRow} Graph reads/row, ${plan.readsThrottled} answered 429) | the reads alone at that pace: ${plan.baselineMs} ms | ${plan.ratio}× | no 429, one read per row: ${met(plan.met)} |`,
    );
  }
  if (pacing) {
    lines.push(
      '',
      '| pacing scenario (300 ms answers) | rate ÷ capacity left | calls answered 429 | settled after the change | least process ÷ its fair share | target |',
      '|---|---|---|---|---|---|',
    );
    for (const scenario of pacing) {
      const { targets } = scenario;
      const target = [
        `≥ ${targets.shareOfCapacityAtLeast * 100}%, ≤ ${targets.throttledShareAtMost * 100}% 429`,
        targets.settleMsAtMost !== undefined ? `settled ≤ ${targets.settleMsAtMost / 1000} s` : '',
        targets.fairShareAtLeast !== undefined ? `each ≥ ${targets.fairShareAtLeast * 100}% of fair share` : '',
      ]
        .filter(Boolean)
        .join(', ');
      lines.push(
        `| ${scenario.name} | ${(scenario.shareOfCapacity * 100).toFixed(1)}% | ${(scenario.throttledShare * 100).toFixed(2)}% | ${scenario.settleMs !== undefined ? `${(scenario.settleMs / 1000).toFixed(0)} s` : ''} | ${scenario.leastFairShare !== undefined ? `${(scenario.leastFairShare * 100).toFixed(0)}%` : ''} | ${target}: ${met(scenario.met)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Accepted writes per second against the capacity left to the app, one panel per pacing scenario. */
export function pacingChart(scenarios: readonly PacingScenarioResult[]): string {
  const width = 720;
  const panel = 150;
  const margin = { left: 50, right: 20, top: 36, bottom: 24 };
  const panels = scenarios.map((scenario, index) => {
    const top = index * panel;
    const seconds = scenario.timeline.length;
    const maxY = 30;
    const x = (second: number) => margin.left + (second / Math.max(1, seconds - 1)) * (width - margin.left - margin.right);
    const y = (value: number) => top + panel - margin.bottom - (Math.min(value, maxY) / maxY) * (panel - margin.top - margin.bottom);
    const rate = scenario.timeline.map((point, second) => `${x(second).toFixed(1)},${y(point.accepted).toFixed(1)}`).join(' ');
    const capacity = scenario.timeline.map((point, second) => `${x(second).toFixed(1)},${y(point.capacity).toFixed(1)}`).join(' ');
    return `<g>
  <text x="${margin.left}" y="${top + 22}" font-size="13">${scenario.name}: ${(scenario.shareOfCapacity * 100).toFixed(1)}% of capacity, ${(scenario.throttledShare * 100).toFixed(2)}% 429</text>
  <line x1="${margin.left}" y1="${y(0)}" x2="${width - margin.right}" y2="${y(0)}" stroke="#888"/>
  <text x="${margin.left - 8}" y="${y(0) + 4}" text-anchor="end">0</text>
  <text x="${margin.left - 8}" y="${y(20) + 4}" text-anchor="end">20</text>
  <polyline points="${capacity}" fill="none" stroke="#d33" stroke-dasharray="6 4"/>
  <polyline points="${rate}" fill="none" stroke="#0067b8" stroke-width="2"/>
</g>`;
  });
  const height = scenarios.length * panel + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
  <title>Accepted invitations per second (blue) against the capacity left to the app (red), per pacing scenario</title>
  <rect width="100%" height="100%" fill="white"/>
  ${panels.join('\n  ')}
  <text x="${width / 2}" y="${height - 4}" text-anchor="middle">seconds since every instance was up; blue: accepted writes/s, red dashed: capacity left to the app</text>
</svg>
`;
}

/** Invitations/s per second of the median worker run, against the budget line. */
export function throughputChart(worker: WorkerBenchResult): string {
  const width = 720;
  const height = 300;
  const margin = { left: 50, right: 20, top: 30, bottom: 40 };
  const seconds = worker.timeline.length;
  const maxY = Math.max(worker.budgetPerSecond * 1.5, ...worker.timeline);
  const x = (second: number) => margin.left + (second / Math.max(1, seconds - 1)) * (width - margin.left - margin.right);
  const y = (value: number) => height - margin.bottom - (value / maxY) * (height - margin.top - margin.bottom);
  const points = worker.timeline.map((value, second) => `${x(second).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
  const ticks = [0, worker.budgetPerSecond / 2, worker.budgetPerSecond, maxY].map(
    (value) => `<text x="${margin.left - 8}" y="${y(value) + 4}" text-anchor="end">${Math.round(value)}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">
  <title>Invitations per second against Graph's write budget</title>
  <rect width="100%" height="100%" fill="white"/>
  <text x="${margin.left}" y="18" font-size="14">Invitations/s (${worker.items} queued, emulator at ${worker.budgetPerSecond} writes/s and ${worker.latencyMs} ms)</text>
  <line x1="${margin.left}" y1="${y(0)}" x2="${width - margin.right}" y2="${y(0)}" stroke="#888"/>
  <line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${y(0)}" stroke="#888"/>
  <line x1="${margin.left}" y1="${y(worker.budgetPerSecond)}" x2="${width - margin.right}" y2="${y(worker.budgetPerSecond)}" stroke="#d33" stroke-dasharray="6 4"/>
  <text x="${width - margin.right}" y="${y(worker.budgetPerSecond) - 6}" text-anchor="end" fill="#d33">budget ${worker.budgetPerSecond}/s</text>
  <polyline points="${points}" fill="none" stroke="#0067b8" stroke-width="2"/>
  ${ticks.join('\n  ')}
  <text x="${(width + margin.left) / 2}" y="${height - 8}" text-anchor="middle">seconds</text>
</svg>
`;
}
