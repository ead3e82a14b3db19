import { randomBytes } from 'node:crypto';
import { startAzurite } from '../local/azurite';
import { createAppDependencies } from '../shared/appDependencies';
import { loadSettings } from '../shared/settings';
import { median, round } from './measure';

/**
 * Partner onboarding: a 50,000-row roster (the portal's CSV) through partnerOnboarding against
 * Azurite — rows/s, and peak memory above the process's resting size. The same measured for a
 * 5,000-row roster in the same run is the baseline: streaming means ten times the rows must not
 * take ten times the memory, nor run slower per row. Each size is measured `runs` times, each
 * time on an Azurite of its own (in memory, discarded after: Azurite deletes a queue's messages
 * one by one against its indices, which takes many minutes for 50,000); the figures are medians.
 *
 * Nothing consumes the queue meanwhile. Sending stays cheap on Azurite at 50,000 queued messages,
 * but receiving does not (it sorts every visible message on each call), so a consumer in the same
 * Azurite would measure Azurite's queue, not the roster; in production the worker is another
 * process on Azure Storage.
 */

export interface RosterBenchResult {
  rows: number;
  runs: number;
  rowsPerSecond: number;
  peakMemoryMiB: number;
  baselineRows: number;
  baselineRowsPerSecond: number;
  baselinePeakMemoryMiB: number;
  memoryRatio: number;
  rosterMiB: number;
}

const HEADINGS =
  'version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody]\n';

function roster(rows: number, tag: string): string {
  const lines: string[] = [HEADINGS];
  for (let i = 0; i < rows; i += 1)
    lines.push(`partner${i}.${tag}@fabrikam.com,https://myapps.microsoft.com,false,"Welcome, partner ${i}"\n`);
  return lines.join('');
}

async function measure(rows: number) {
  const azurite = await startAzurite();
  try {
    const settings = loadSettings({ AzureWebJobsStorage: azurite.connectionString, PARTNER_ONBOARDING_BUDGET_SECONDS: '3600' });
    const deps = await createAppDependencies(settings);
    const container = deps.partnerOnboarding.container();
    await container.createIfNotExists();
    const content = roster(rows, randomBytes(4).toString('hex'));
    await container.getBlockBlobClient('roster.csv').upload(content, Buffer.byteLength(content));
    const rosterMiB = Buffer.byteLength(content) / 2 ** 20;

    global.gc?.();
    const resting = process.memoryUsage().rss;
    let peak = resting;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    const run = await deps.partnerOnboarding.run({ info: () => undefined, warn: () => undefined });
    const seconds = (Date.now() - started) / 1000;
    clearInterval(sampler);
    if (run.recorded.length !== 1) throw new Error(`The roster was not recorded: ${JSON.stringify(run)}`);
    const queued = (await deps.queue.queue.getProperties()).approximateMessagesCount;
    if (queued !== rows) throw new Error(`${rows} rows, but ${queued} messages queued`);
    return { rowsPerSecond: rows / seconds, peakMiB: (peak - resting) / 2 ** 20, rosterMiB };
  } finally {
    await azurite.stop();
  }
}

export async function benchRoster({ rows = 50_000, baselineRows = 5_000, runs = 3 } = {}): Promise<RosterBenchResult> {
  const baseline: Awaited<ReturnType<typeof measure>>[] = [];
  const large: Awaited<ReturnType<typeof measure>>[] = [];
  // Interleaved, so that a noisy minute on the shared machine lands on both sizes alike.
  for (let run = 0; run < runs; run += 1) {
    baseline.push(await measure(baselineRows));
    large.push(await measure(rows));
  }
  const peakMiB = median(large.map((m) => m.peakMiB));
  const baselinePeakMiB = median(baseline.map((m) => m.peakMiB));
  return {
    rows,
    runs,
    rowsPerSecond: round(median(large.map((m) => m.rowsPerSecond)), 0),
    peakMemoryMiB: round(peakMiB, 1),
    baselineRows,
    baselineRowsPerSecond: round(median(baseline.map((m) => m.rowsPerSecond)), 0),
    baselinePeakMemoryMiB: round(baselinePeakMiB, 1),
    memoryRatio: round(peakMiB / Math.max(baselinePeakMiB, 1), 2),
    rosterMiB: round(large[0]!.rosterMiB, 1),
  };
}
