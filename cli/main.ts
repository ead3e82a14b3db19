import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { batchIdSchema, combinePlans, MAX_ITEMS_PER_SUBMISSION, planCsv, type InvitationPlan } from '../shared/intake';
import { FINAL_STATUSES, INVITATION_STATUSES, type InvitationStatus } from '../shared/core';
import { InvitationsApi, type ApiOptions, type BatchCounts, type SendingState } from './invitationsApi';
import { readInvitationFile, type FileInvitation } from './invitationFile';
import { withFileRows } from './resultsFile';

/**
 * `npx entra-invite`: submit a roster file to the intake API and watch it complete.
 *   entra-invite plan <file.csv|file.json> [--url] [--key] [--hmac-secret]
 *   entra-invite submit <file.csv|file.json> [--url] [--key] [--hmac-secret] [--batch-id] [--watch]
 *   entra-invite status [batchId] [--csv]
 *   entra-invite pause --reason <text> | resume
 */

const DEFAULT_URL = 'http://localhost:7071';
const POLL_MS = 1_000;

const program = new Command()
  .name('entra-invite')
  .description('Submit people to invite as B2B guests to an entra-invite-pipeline function app, and follow them.')
  .showHelpAfterError();

const withConnection = (command: Command) =>
  command
    .option('--url <url>', `the function app (env ENTRA_INVITE_URL; default ${DEFAULT_URL}, the local host)`)
    .option('--key <key>', 'a function key (env ENTRA_INVITE_KEY)')
    .option('--hmac-secret <secret>', "the app's INTAKE_HMAC_SECRET, to sign each request (env INTAKE_HMAC_SECRET)");

/** Options, else the environment; secrets are never defaults, so that --help cannot print them. */
function connection(options: Partial<ApiOptions>): ApiOptions {
  const key = options.key ?? process.env.ENTRA_INVITE_KEY;
  const hmacSecret = options.hmacSecret ?? process.env.INTAKE_HMAC_SECRET;
  return {
    url: options.url ?? process.env.ENTRA_INVITE_URL ?? DEFAULT_URL,
    ...(key ? { key } : {}),
    ...(hmacSecret ? { hmacSecret } : {}),
  };
}

withConnection(program.command('plan'))
  .description('say what submitting a file would do, row by row, and write nothing: <file>-plan.csv holds every row')
  .argument('<file>', 'the Entra bulk-invite CSV, or JSON {"invitations": [...]}')
  .action(async (file: string, options: Partial<ApiOptions>) => {
    const api = new InvitationsApi(connection(options));
    const rows = readInvitationFile(file);
    const parts: { start: number; plan: InvitationPlan }[] = [];
    for (let start = 0; start < rows.length; start += MAX_ITEMS_PER_SUBMISSION)
      parts.push({ start, plan: await api.plan(rows.slice(start, start + MAX_ITEMS_PER_SUBMISSION).map((row) => row.invitation)) });
    if (parts.length === 0) throw new Error(`${file} holds no invitation.`);
    const plan = combinePlans(parts, (row) => rows[row - 1]?.raw);
    const planFile = `${file.replace(/\.(csv|json)$/i, '')}-plan.csv`;
    writeFileSync(planFile, planCsv(plan));
    console.log(describePlan(plan));
    console.log(`Plan: ${path.relative(process.cwd(), planFile) || planFile}`);
  });

withConnection(program.command('submit'))
  .description(`submit a bulk-invite CSV or a JSON file (in requests of at most ${MAX_ITEMS_PER_SUBMISSION}, one batch)`)
  .argument('<file>', 'the Entra bulk-invite CSV, or JSON {"invitations": [...]}')
  .option('--batch-id <id>', 'the batch to submit into (default: derived from the file, so a re-run joins the same batch)', parseBatchId)
  .option('--watch', 'show progress until every person is final, then write <file>-results.csv; exit 1 if anyone failed')
  .action(async (file: string, options: Partial<ApiOptions> & { batchId?: string; watch?: boolean }) => {
    const api = new InvitationsApi(connection(options));
    const rows = readInvitationFile(file);
    const batchId = options.batchId ?? defaultBatchId(file);
    let queued = 0;
    let duplicates = 0;
    const rejected: string[] = [];
    const rejectedInFile: FileInvitation[] = [];
    const warnings = new Map<string, number>();
    for (let start = 0; start < rows.length; start += MAX_ITEMS_PER_SUBMISSION) {
      const chunk = rows.slice(start, start + MAX_ITEMS_PER_SUBMISSION);
      const answer = await api.submit(
        batchId,
        chunk.map((row) => row.invitation),
      );
      queued += answer.items.filter((item) => !item.duplicate).length;
      duplicates += answer.items.filter((item) => item.duplicate).length;
      for (const warning of answer.items.flatMap((item) => item.warnings ?? [])) warnings.set(warning, (warnings.get(warning) ?? 0) + 1);
      for (const item of answer.rejected) {
        const row = chunk[item.index]!;
        rejectedInFile.push(row);
        const where = row.line ? `line ${row.line}` : `row ${row.row}`;
        for (const error of item.errors)
          rejected.push(`  ${where}: ${error.path.replace(/^invitations\[\d+\]\.?/, '') || '(row)'} ${error.message}`);
      }
    }
    console.log(`Batch ${batchId}: ${queued} queued, ${duplicates} already known, ${rows.length - queued - duplicates} rejected.`);
    if (rejected.length > 0) console.log(`Rejected:\n${rejected.join('\n')}`);
    for (const [warning, people] of warnings) console.log(`Warning (${people} ${people === 1 ? 'person' : 'people'}): ${warning}`);
    if (!options.watch) return;
    if (queued + duplicates === 0) {
      process.exitCode = 1;
      return;
    }
    const counts = await watch(api, batchId);
    const resultsFile = `${file.replace(/\.(csv|json)$/i, '')}-results.csv`;
    writeFileSync(resultsFile, withFileRows(await api.resultsCsv(batchId), rejectedInFile));
    console.log(`${describeCounts(counts)}\nResults: ${path.relative(process.cwd(), resultsFile) || resultsFile}`);
    if (counts.counts.Failed + counts.counts.DeadLettered > 0) process.exitCode = 1;
  });

withConnection(program.command('status'))
  .description("print a batch's counts per status, or with --csv its results; without a batch, whether the app is sending")
  .argument('[batchId]', 'the batch', parseBatchId)
  .option('--csv', 'print the results CSV')
  .action(async (batchId: string | undefined, options: Partial<ApiOptions> & { csv?: boolean }) => {
    const api = new InvitationsApi(connection(options));
    if (!batchId) console.log(describeSending(await api.sending()));
    else if (options.csv) process.stdout.write(await api.resultsCsv(batchId));
    else console.log(`Batch ${batchId}: ${describeCounts(await api.batch(batchId))}`);
  });

withConnection(program.command('pause'))
  .description('stop all sending to Graph at once (a wrong roster, a change freeze); submissions are still accepted (admin key)')
  .requiredOption('--reason <text>', 'why, shown in /api/health and the dashboard')
  .action(async (options: Partial<ApiOptions> & { reason: string }) => {
    console.log(describeSending(await new InvitationsApi(connection(options)).pause(options.reason)));
  });

withConnection(program.command('resume'))
  .description("resume sending, after an operator's pause or a tenant pause (admin key)")
  .action(async (options: Partial<ApiOptions>) => {
    await new InvitationsApi(connection(options)).resume();
    console.log('Sending resumed.');
  });

function describePlan({ summary, tenant }: InvitationPlan): string {
  const counts = Object.entries(summary.counts)
    .filter(([, count]) => count > 0)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(', ');
  return [
    `${summary.rows} row(s): ${counts || 'none'}.`,
    `The real run: ${summary.graphWrites} Graph write(s), ${summary.emails} email(s), about ${summary.minutes} minute(s) at the app's budget.`,
    `Guest invitations: ${tenant.guestInvites.detail}`,
    `Directory quota: ${tenant.directoryQuota.detail}`,
  ].join('\n');
}

function describeSending(sending: SendingState): string {
  if (sending.state !== 'paused') return 'Sending.';
  const who = sending.by ? ` by ${sending.by}` : '';
  const waiting = sending.waiting !== undefined ? ` ${sending.waiting} message(s) wait.` : '';
  return `Paused (${sending.kind}) since ${sending.since}${who}: ${sending.reason?.replace(/[.\s]*$/, '.')}${waiting}`;
}

/** Polls the batch with a progress bar (counts per status, rate, time left) until everyone is final. */
async function watch(api: InvitationsApi, batchId: string): Promise<BatchCounts> {
  const bar = new SingleBar({
    format: '{bar} {value}/{total} final | {statuses} | {rate}/s | {eta_formatted} left',
    noTTYOutput: true,
    notTTYSchedule: 5_000,
    hideCursor: true,
  });
  const started = Date.now();
  let counts = await api.batch(batchId);
  bar.start(counts.total, finalCount(counts), { statuses: statusLine(counts), rate: '0.0' });
  while (finalCount(counts) < counts.total) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    counts = await api.batch(batchId);
    const rate = finalCount(counts) / Math.max(1, (Date.now() - started) / 1000);
    bar.setTotal(counts.total);
    bar.update(finalCount(counts), { statuses: statusLine(counts), rate: rate.toFixed(1) });
  }
  bar.stop();
  return counts;
}

function finalCount({ counts }: BatchCounts): number {
  return INVITATION_STATUSES.filter((status) => FINAL_STATUSES.has(status)).reduce((sum, status) => sum + counts[status], 0);
}

function statusLine({ counts }: BatchCounts): string {
  return (
    INVITATION_STATUSES.filter((status) => counts[status] > 0)
      .map((status: InvitationStatus) => `${status} ${counts[status]}`)
      .join(', ') || 'nothing yet'
  );
}

function describeCounts(counts: BatchCounts): string {
  return `${counts.total} people: ${statusLine(counts)}.`;
}

/** A re-run of the same file joins the same batch (the intake never queues anyone twice anyway). */
function defaultBatchId(file: string): string {
  const stem = path
    .basename(file)
    .replace(/\.[^.]+$/, '')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .slice(0, 30);
  const digest = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12);
  return `cli-${stem}-${digest}`;
}

function parseBatchId(value: string): string {
  const parsed = batchIdSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`a batch id ${parsed.error.issues[0]?.message ?? 'is invalid'}.`);
  return parsed.data;
}

program.parseAsync().catch((error: unknown) => {
  console.error(`entra-invite: ${(error as Error).message}`);
  process.exitCode = 2;
});
