import { randomBytes } from 'node:crypto';
import { createAppDependencies } from '../shared/appDependencies';
import { loadSettings } from '../shared/settings';
import { round } from './measure';

/**
 * Partner onboarding: a 50,000-row roster (the portal's CSV) through partnerOnboarding against
 * Azurite — rows/s, and peak memory above the process's resting size. The same measured for a
 * 5,000-row roster in the same run is the baseline: streaming means ten times the rows must not
 * take ten times the memory. As in production, where the worker consumes the queue while a
 * roster is recorded, a consumer drains it meanwhile: Azurite's queue slows as it deepens, which
 * Azure Storage's does not.
 */

export interface RosterBenchResult {
  rows: number;
  rowsPerSecond: number;
  peakMemoryMiB: number;
  baselineRows: number;
  baselinePeakMemoryMiB: number;
  memoryRatio: number;
  rosterMiB: number;
}

const HEADINGS =
  'version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody]\n';

function roster(rows: number, tag: string): string {
  const lines: string[] = [HEADINGS];
  for (let i = 0; i < rows; i += 1) lines.push(`partner${i}.${tag}@fabrikam.com,https://myapps.microsoft.com,false,"Welcome, partner ${i}"\n`);
  return lines.join('');
}

async function measure(connectionString: string, rows: number) {
  const settings = loadSettings({ AzureWebJobsStorage: connectionString, PARTNER_ONBOARDING_BUDGET_SECONDS: '3600' });
  const suffix = randomBytes(4).toString('hex');
  const deps = await createAppDependencies(settings, { queueName: `roster-${suffix}`, tableName: `roster${suffix}`, rostersContainer: `rosters-${suffix}` });
  const container = deps.partnerOnboarding.container();
  await container.createIfNotExists();
  const content = roster(rows, suffix);
  await container.getBlockBlobClient('roster.csv').upload(content, Buffer.byteLength(content));
  const rosterMiB = Buffer.byteLength(content) / 2 ** 20;

  global.gc?.();
  const resting = process.memoryUsage().rss;
  let peak = resting;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  let draining = true;
  const drained = (async () => {
    while (draining) {
      const { receivedMessageItems } = await deps.queue.queue.receiveMessages({ numberOfMessages: 32 });
      await Promise.all(receivedMessageItems.map((message) => deps.queue.queue.deleteMessage(message.messageId, message.popReceipt)));
      if (receivedMessageItems.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const started = Date.now();
  const run = await deps.partnerOnboarding.run({ info: () => undefined, warn: () => undefined });
  const seconds = (Date.now() - started) / 1000;
  draining = false;
  await drained;
  clearInterval(sampler);
  if (run.recorded.length !== 1) throw new Error(`The roster was not recorded: ${JSON.stringify(run)}`);
  await Promise.all([deps.queue.queue.delete(), deps.queue.poisonQueue.delete(), deps.store.table.deleteTable(), container.delete()]);
  return { rowsPerSecond: rows / seconds, peakMiB: (peak - resting) / 2 ** 20, rosterMiB };
}

export async function benchRoster(connectionString: string, { rows = 50_000, baselineRows = 5_000 } = {}): Promise<RosterBenchResult> {
  const baseline = await measure(connectionString, baselineRows);
  const large = await measure(connectionString, rows);
  return {
    rows,
    rowsPerSecond: round(large.rowsPerSecond, 0),
    peakMemoryMiB: round(large.peakMiB, 1),
    baselineRows,
    baselinePeakMemoryMiB: round(baseline.peakMiB, 1),
    memoryRatio: round(large.peakMiB / Math.max(baseline.peakMiB, 1), 2),
    rosterMiB: round(large.rosterMiB, 1),
  };
}
