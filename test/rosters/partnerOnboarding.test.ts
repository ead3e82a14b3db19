import { parse } from 'csv-parse/sync';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partnerOnboarding } from '../../functions/partnerOnboarding';
import { freePort } from '../../local/azurite';
import { LocalFunctionHost } from '../../local/functionHost';
import type { AppDependencies } from '../../shared/appDependencies';
import { PartnerOnboarding, rosterBatchId } from '../../shared/rosters/partnerOnboarding';
import { RosterProgressStore } from '../../shared/rosters/rosterProgress';
import { storageAccountFromSettings } from '../../shared/storage/storageAccount';
import { createTestDependencies, invitationFor, submit, MESSAGE_POWERS } from '../support/harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, FAST_TRIGGER, startWorker } from '../support/pipeline';

const HEADINGS =
  'version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody]';
const REDIRECT = 'https://myapps.microsoft.com';

let tenant: EmulatedTenant;
// The groups the roster test names, granted by the operator (INVITE_ALLOWED_GROUPS).
const ROSTER_GROUPS = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
let deps: AppDependencies;
let container: ContainerClient;
let running: ReturnType<typeof startWorker>;
const logs = new CapturedLogs();
const log = { info: (m: string) => logs.lines.push(m), warn: (m: string) => logs.lines.push(m) };

beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 0 });
  deps = await createTestDependencies({ ...tenant.settings, ...MESSAGE_POWERS, INVITE_ALLOWED_GROUPS: ROSTER_GROUPS.join(',') });
  container = deps.partnerOnboarding.container();
  await container.createIfNotExists();
  running = startWorker(deps, logs);
});
afterAll(async () => {
  await running?.stop();
  await tenant?.emulator.stop();
});

async function upload(name: string, content: string, metadata: Record<string, string> = {}) {
  const blob = container.getBlockBlobClient(name);
  await blob.upload(content, Buffer.byteLength(content), { metadata });
  return (await blob.getProperties()).etag!;
}
const exists = (name: string) => container.getBlobClient(name).exists();
const text = async (name: string) => (await container.getBlobClient(name).downloadToBuffer()).toString('utf8');
const callsFor = (emails: string[]) => emails.reduce((sum, email) => sum + tenant.emulator.callsFor(email).length, 0);

async function runUntilResults(name: string) {
  await waitFor(
    async () => {
      await deps.partnerOnboarding.run(log);
      return exists(`results/${name}-results.csv`);
    },
    { timeoutMs: 30_000, what: `results for ${name}` },
  );
}

describe('scheduled partner onboarding', () => {
  it("invites a roster's valid rows once, rejects the invalid ones, and writes the results file when all are final", async () => {
    const already = await submit(deps, invitationFor('already@fabrikam.com'));
    expect(already.status).toBe(202);
    await waitFor(async () => (await deps.store.getById(already.json.items[0].id))?.record.status === 'Invited', {
      what: 'the earlier invitation',
    });

    const roster = [
      HEADINGS,
      `new1@fabrikam.com,${REDIRECT},true,"Hello,\nwelcome"`,
      `bad#row@fabrikam.com,${REDIRECT},false,`,
      `already@fabrikam.com,${REDIRECT},false,`,
      `new2@fabrikam.com,${REDIRECT},false,`,
    ].join('\n');
    const etag = await upload('week47.csv', roster);
    const run = await deps.partnerOnboarding.run(log);
    expect(run.recorded).toEqual(['week47.csv']);
    expect(await exists('week47.csv')).toBe(false);
    expect(await exists('processed/week47.csv')).toBe(true);

    const rejected = parse(await text('results/week47.csv-rejected.csv'), { columns: true });
    // With what the row held: the address, and the row as the file had it.
    expect(rejected).toEqual([
      {
        row: '2',
        line: '5',
        path: 'invitedUserEmailAddress',
        message: expect.stringContaining("'#'"),
        email: 'bad#row@fabrikam.com',
        displayName: '',
        submitted: `bad#row@fabrikam.com,${REDIRECT},false,`,
      },
    ]);

    await runUntilResults('week47.csv');
    const results: Record<string, string>[] = parse(await text('results/week47.csv-results.csv'), { columns: true });
    // Every row of the file: the rejected one too, with its reasons (its row number is the roster's, from 1).
    expect(results.map((row) => [row.row, row.email, row.status])).toEqual([
      ['1', 'new1@fabrikam.com', 'Invited'],
      ['3', 'already@fabrikam.com', 'Invited'],
      ['4', 'new2@fabrikam.com', 'Invited'],
      ['2', 'bad#row@fabrikam.com', 'Rejected'],
    ]);
    expect(results[3]!.errorMessage).toContain("'#'");
    expect(results[3]!.submitted).toBe(`bad#row@fabrikam.com,${REDIRECT},false,`);
    const report = await deps.batchReports.report(rosterBatchId('week47.csv', etag));
    expect(report.items.find((item) => item.email === 'already@fabrikam.com')?.duplicate).toBe(true);
    // The batch's counts, kept by the worker as it went, agree with the results file.
    expect(report).toMatchObject({ source: { kind: 'roster', roster: 'week47.csv' }, counts: { Invited: 2, Queued: 0 }, duplicates: 1 });
    expect(callsFor(['new1@fabrikam.com', 'new2@fabrikam.com', 'already@fabrikam.com'])).toBe(3);
  });

  it('changes nothing and calls Graph no more when the timer runs again', async () => {
    const callsBefore = tenant.emulator.calls.length;
    const resultsEtag = (await container.getBlobClient('results/week47.csv-results.csv').getProperties()).etag;
    const messagesBefore = (await deps.queue.queue.getProperties()).approximateMessagesCount;
    const run = await deps.partnerOnboarding.run(log);
    expect(run).toEqual({ recorded: [], planned: [], stopped: [], resumedLater: [], failed: [], completed: [] });
    expect((await container.getBlobClient('results/week47.csv-results.csv').getProperties()).etag).toBe(resultsEtag);
    expect((await deps.queue.queue.getProperties()).approximateMessagesCount).toBe(messagesBefore);
    expect(tenant.emulator.calls.length).toBe(callsBefore);
  });

  it('resumes a roster interrupted half-way without duplicates', async () => {
    const emails = Array.from({ length: 7 }, (_, i) => `resume${i}@fabrikam.com`);
    await upload('resume.json', JSON.stringify({ invitations: emails.map((email) => invitationFor(email)) }));
    // A run with no time to spare records one chunk (of 2 rows) and stops, as a run cut short by the Functions timeout would.
    const shortRuns = new PartnerOnboarding(
      () => container,
      deps.intake,
      deps.batchReports,
      new RosterProgressStore(deps.store.layout.rows('roster')),
      {
        budgetMs: 0,
        chunkSize: 2,
      },
    );
    const first = await shortRuns.run(log);
    expect(first.resumedLater).toEqual(['resume.json']);
    expect(await exists('resume.json')).toBe(true);
    let runs = 1;
    while (await exists('resume.json')) {
      await shortRuns.run(log);
      runs += 1;
    }
    expect(runs).toBe(4);
    expect(logs.lines.some((line) => line.includes('Roster resume.json: resuming after row 2.'))).toBe(true);
    await runUntilResults('resume.json');
    const results: Record<string, string>[] = parse(await text('results/resume.json-results.csv'), { columns: true });
    expect(results.map((row) => row.email)).toEqual(emails);
    expect(results.every((row) => row.status === 'Invited')).toBe(true);
    for (const email of emails) expect(tenant.emulator.callsFor(email)).toHaveLength(1);
  });

  it('queues nobody twice when a chunk is recorded again, as after a crash before its progress was saved', async () => {
    const emails = ['crash1@fabrikam.com', 'crash2@fabrikam.com'];
    const etag = await upload('crash.json', JSON.stringify({ invitations: emails.map((email) => invitationFor(email)) }));
    const progress = new RosterProgressStore(deps.store.layout.rows('roster'));
    await deps.partnerOnboarding.run(log);
    // Put the roster back and forget its progress past row 0: the next run records the same rows again.
    await container.getBlobClient('processed/crash.json').delete();
    const sameEtag = await upload('crash.json', JSON.stringify({ invitations: emails.map((email) => invitationFor(email)) }));
    const saved = (await progress.get('crash.json'))!;
    await progress.save({ ...saved, blobEtag: sameEtag, batchId: rosterBatchId('crash.json', etag), status: 'recording', rowsDone: 0 });
    await deps.partnerOnboarding.run(log);
    await runUntilResults('crash.json');
    const report = await deps.batchReports.report(rosterBatchId('crash.json', etag));
    expect(report.total).toBe(2);
    for (const email of emails) expect(tenant.emulator.callsFor(email)).toHaveLength(1);
  });

  it.each([
    ['no-version.csv', `Email address to invite [inviteeEmail] Required\nx@fabrikam.com`, 'version:v1.0'],
    ['broken.json', '{"invitations": [{"invitedUserEmailAddress": "a@fabrikam.com",', 'The JSON is malformed'],
    ['empty.json', '{"people": []}', 'no invitations'],
    ['notes.txt', 'hello', 'must be a .csv'],
    ['quote.csv', `${HEADINGS}\nq@fabrikam.com,${REDIRECT},true,"unterminated`, 'malformed'],
  ])('moves an unreadable roster (%s) to failed/ with a .error.txt that says why', async (name, content, reason) => {
    await upload(name, content);
    const run = await deps.partnerOnboarding.run(log);
    expect(run.failed).toContain(name);
    expect(await exists(name)).toBe(false);
    expect(await exists(`failed/${name}`)).toBe(true);
    expect(await text(`failed/${name}.error.txt`)).toContain(reason);
  });

  it('lists every row of a roster whose every row is rejected in its results, and queues nobody', async () => {
    const roster = [HEADINGS, `bad#one@fabrikam.com,${REDIRECT},false,`, `bad#two@fabrikam.com,${REDIRECT},false,`].join('\n');
    await upload('all-rejected.csv', roster);
    const run = await deps.partnerOnboarding.run(log);
    expect(run.recorded).toEqual(['all-rejected.csv']);
    await runUntilResults('all-rejected.csv');
    const results: Record<string, string>[] = parse(await text('results/all-rejected.csv-results.csv'), { columns: true });
    expect(results.map((row) => [row.row, row.status])).toEqual([
      ['1', 'Rejected'],
      ['2', 'Rejected'],
    ]);
    expect(await deps.store.findByEmail('bad#one@fabrikam.com')).toEqual([]);
  });

  it("fills empty fields from the roster's blob metadata", async () => {
    const [ownGroup, ...defaultGroups] = ROSTER_GROUPS;
    const roster = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Groups [groups]',
      'meta@fabrikam.com,,',
      `own@fabrikam.com,https://own.example.com/welcome,${ownGroup}`,
    ].join('\n');
    await upload('meta.csv', roster, {
      inviteRedirectUrl: 'https://contoso.sharepoint.com/sites/partners',
      messageLanguage: 'fr-FR',
      sendInvitationMessage: 'true',
      groups: `${defaultGroups[0]};${defaultGroups[1]}`,
      // Metadata the table does not know: ignored.
      owner: 'partner-team',
    });
    await deps.partnerOnboarding.run(log);
    const invitationOf = async (email: string) => (await deps.store.getById((await deps.store.findByEmail(email))[0]!.id))!.invitation;
    expect(await invitationOf('meta@fabrikam.com')).toMatchObject({
      inviteRedirectUrl: 'https://contoso.sharepoint.com/sites/partners',
      sendInvitationMessage: true,
      invitedUserMessageInfo: { messageLanguage: 'fr-FR' },
      groups: defaultGroups,
    });
    // A row's own value wins over the roster's default.
    expect(await invitationOf('own@fabrikam.com')).toMatchObject({
      inviteRedirectUrl: 'https://own.example.com/welcome',
      groups: [ownGroup],
    });
  });

  it('takes groups from roster metadata only when INVITE_ALLOWED_GROUPS lists them: each row is rejected naming the setting', async () => {
    const roster = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required',
      `owners1@fabrikam.com,${REDIRECT}`,
    ].join('\n');
    await upload('owners.csv', roster, { groups: crypto.randomUUID() });
    await deps.partnerOnboarding.run(log);
    const rejected = parse(await text('results/owners.csv-rejected.csv'), { columns: true });
    expect(rejected).toEqual([
      expect.objectContaining({ row: '1', path: 'groups[0]', message: expect.stringContaining('INVITE_ALLOWED_GROUPS') }),
    ]);
    expect(await deps.store.findByEmail('owners1@fabrikam.com')).toEqual([]);
  });

  it('runs when the local host is asked to: POST /admin/functions/partnerOnboarding', async () => {
    const host = new LocalFunctionHost({
      functions: [partnerOnboarding],
      deps,
      storage: storageAccountFromSettings(deps.settings),
      queueTrigger: FAST_TRIGGER,
      port: await freePort(),
      logHandler: logs.handler,
    });
    await host.start();
    try {
      await upload('admin.json', JSON.stringify({ invitations: [invitationFor('admin-run@fabrikam.com')] }));
      const response = await fetch(`${host.url}/admin/functions/partnerOnboarding`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(response.status).toBe(202);
      await waitFor(async () => exists('processed/admin.json'), { what: 'the roster to be processed' });
    } finally {
      await host.stop();
    }
  });
});

describe('a roster planned first (metadata dryRun=true)', () => {
  it('writes results/<name>-plan.csv and invites nobody, plans it once, and invites when its metadata says dryRun=false', async () => {
    const roster = [
      HEADINGS,
      `roster.new@fabrikam.com,${REDIRECT},false,`,
      `Roster.New@fabrikam.com,${REDIRECT},false,`,
      `bad#roster@fabrikam.com,${REDIRECT},false,`,
    ].join('\n');
    await upload('planned.csv', roster, { DryRun: 'true' });
    expect(await deps.store.findByEmail('roster.new@fabrikam.com')).toEqual([]);

    const first = await deps.partnerOnboarding.run(log);
    expect(first.planned).toEqual(['planned.csv']);
    expect(first.recorded).toEqual([]);
    const plan: Record<string, string>[] = parse(await text('results/planned.csv-plan.csv'), { columns: true });
    expect(plan.map((row) => [row.row, row.email, row.outcome])).toEqual([
      ['1', 'roster.new@fabrikam.com', 'Invite'],
      ['2', 'roster.new@fabrikam.com', 'Duplicate'],
      ['3', 'bad#roster@fabrikam.com', 'Rejected'],
    ]);
    expect(plan[2]!.submitted).toBe(`bad#roster@fabrikam.com,${REDIRECT},false,`);
    // This app may not read users (no User.Read.All here): the plan says so rather than guess.
    expect(plan[0]!.directoryNotChecked).toContain('User.Read.All');
    // Nobody invited, nothing recorded, and the file stays in the inbox, waiting.
    expect(callsFor(['roster.new@fabrikam.com'])).toBe(0);
    expect(await deps.store.findByEmail('roster.new@fabrikam.com')).toEqual([]);
    expect(await exists('planned.csv')).toBe(true);

    // Unchanged, it is not planned again.
    const planEtag = (await container.getBlobClient('results/planned.csv-plan.csv').getProperties()).etag;
    expect((await deps.partnerOnboarding.run(log)).planned).toEqual(['planned.csv']);
    expect((await container.getBlobClient('results/planned.csv-plan.csv').getProperties()).etag).toBe(planEtag);

    // The operator has read the plan: with dryRun=false it is a new version, recorded and invited.
    await container.getBlobClient('planned.csv').setMetadata({ DryRun: 'false' });
    const real = await deps.partnerOnboarding.run(log);
    expect(real.recorded).toEqual(['planned.csv']);
    await waitFor(async () => tenant.emulator.callsFor('roster.new@fabrikam.com').length === 1, { what: 'the invitation after the plan' });
  });
});
