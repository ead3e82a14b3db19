import { randomBytes } from 'node:crypto';
import { ORGANIZATION_READ_ALL, POLICY_READ_ALL, USER_INVITE_ALL, USER_READ_ALL } from '../local/graphEmulator/graphEmulator';
import type { LocalCertificate } from '../local/graphEmulator/localCertificate';
import { createAppDependencies } from '../shared/appDependencies';
import { combinePlans, MAX_ITEMS_PER_SUBMISSION, type InvitationPlan } from '../shared/intake';
import { loadSettings } from '../shared/settings';
import { startBenchTenant } from './benchTenant';
import { median, round, timed } from './measure';

/**
 * A plan before inviting (`entra-invite plan`, `?dryRun=true`): a 10,000-row file, half of whose
 * people are already guests (half of those accepted), planned in requests of 1,000 as the CLI
 * sends them, against the emulator at a large tenant's read budget (8,000 resource units per
 * 10 s) with the app's own reads paced at GRAPH_MAX_READS_PER_SECOND (BENCH_PLAN_READS_PER_SECOND,
 * default 300 here; 40 by default in the app). The baseline, measured in the same run, is the
 * time the reads alone need at that pace: the plan's time over it says how much the rest costs.
 * Target: every guest found, no read answered 429 (within the read budget), and one read per row.
 */

export interface PlanBenchResult {
  rows: number;
  runs: number;
  readsPerSecond: number;
  planMsMedian: number;
  msPerRow: number;
  graphReadsPerRow: number;
  readsThrottled: number;
  baselineMs: number;
  ratio: number;
  met: boolean;
}

export async function benchPlan(
  connectionString: string,
  certificate: LocalCertificate,
  { runs = 3, rows = 10_000, readsPerSecond = Number(process.env.BENCH_PLAN_READS_PER_SECOND ?? 300) } = {},
): Promise<PlanBenchResult> {
  const { emulator, graphSettings } = await startBenchTenant(
    certificate,
    { latencyMs: 30, readBudget: { limit: 8_000, windowMs: 10_000 } },
    [USER_INVITE_ALL, USER_READ_ALL, POLICY_READ_ALL, ORGANIZATION_READ_ALL],
  );
  try {
    const times: number[] = [];
    const readsPerRow: number[] = [];
    let throttled = 0;
    let plan: InvitationPlan | undefined;
    for (let run = 0; run < runs; run += 1) {
      emulator.reset();
      const tag = randomBytes(4).toString('hex');
      const emails = Array.from({ length: rows }, (_, i) => `p${i}.${tag}@fabrikam.com`);
      // Every other person is already a guest; every other guest has accepted.
      emails.forEach((mail, i) => {
        if (i % 2 === 1) emulator.directory.add({ mail, userType: 'Guest', ...(i % 4 === 1 ? { externalUserState: 'Accepted' } : {}) });
      });
      const settings = loadSettings({
        AzureWebJobsStorage: connectionString,
        ...graphSettings,
        GRAPH_MAX_READS_PER_SECOND: String(readsPerSecond),
      });
      const deps = await createAppDependencies(settings, { queueName: `plan-${tag}`, tableName: `Plan${tag}` });
      const invitations = emails.map((email) => ({ invitedUserEmailAddress: email, inviteRedirectUrl: 'https://myapps.microsoft.com' }));
      const measured = await timed(async () => {
        const parts: { start: number; plan: InvitationPlan }[] = [];
        for (let start = 0; start < rows; start += MAX_ITEMS_PER_SUBMISSION) {
          const body = new TextEncoder().encode(
            JSON.stringify({ invitations: invitations.slice(start, start + MAX_ITEMS_PER_SUBMISSION) }),
          );
          parts.push({ start, plan: await deps.intake.plan({ contentType: 'application/json', body }) });
        }
        return combinePlans(parts);
      });
      plan = measured.value;
      times.push(measured.ms);
      readsPerRow.push(emulator.directory.reads / rows);
      throttled += emulator.directory.readsThrottled;
      await Promise.all([deps.queue.queue.delete(), deps.queue.poisonQueue.delete(), deps.store.layout.client.deleteTable()]).catch(
        () => undefined,
      );
      if (plan.summary.counts.AlreadyGuest !== rows / 2 || plan.summary.counts.Invite !== rows / 2)
        throw new Error(`The plan found ${plan.summary.counts.AlreadyGuest} guests of ${rows / 2}.`);
    }
    // The reads alone at the app's pace: one lookup per row, and each request's two tenant reads.
    const baselineMs = ((rows + 2 * Math.ceil(rows / MAX_ITEMS_PER_SUBMISSION)) / readsPerSecond) * 1000;
    const planMsMedian = round(median(times), 0);
    const graphReadsPerRow = round(median(readsPerRow), 3);
    return {
      rows,
      runs,
      readsPerSecond,
      planMsMedian,
      msPerRow: round(planMsMedian / rows, 2),
      graphReadsPerRow,
      readsThrottled: throttled,
      baselineMs: round(baselineMs, 0),
      ratio: round(planMsMedian / baselineMs, 2),
      met: throttled === 0 && graphReadsPerRow <= 1.01,
    };
  } finally {
    await emulator.stop();
  }
}
