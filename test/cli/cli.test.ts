import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFunctionHost } from '../../local/functionHost';
import type { AppDependencies } from '../../shared/appDependencies';
import { ORGANIZATION_READ_ALL, POLICY_READ_ALL, USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import { createTestDependencies, tableRowCount } from '../support/harness';
import { startEmulatedTenant, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startHttpHost, startWorker } from '../support/pipeline';

const ROOT = path.join(__dirname, '..', '..');
const run = promisify(execFile);

let tenant: EmulatedTenant;
let deps: AppDependencies;
let host: LocalFunctionHost;
let worker: ReturnType<typeof startWorker>;
const secret = 'cli-shared-secret-of-at-least-32-bytes';

beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 0 });
  deps = await createTestDependencies({
    ...tenant.settings,
    INTAKE_HMAC_SECRET: secret,
    GRAPH_MAX_WRITES_PER_SECOND: '500',
    INVITE_ALLOW_CUSTOM_MESSAGE: 'true',
  });
  host = await startHttpHost(deps);
  worker = startWorker(deps, new CapturedLogs());
});
afterAll(async () => {
  await host?.stop();
  await worker?.stop();
  await tenant?.emulator.stop();
});

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'bin', 'entra-invite.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, INTAKE_HMAC_SECRET: secret, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npx entra-invite', () => {
  it('submits the example CSV, watches it to the end and writes the results CSV', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'cli-'));
    const file = path.join(folder, 'partners.csv');
    // The example, with a message of its own in the two rows that ask for Graph's email (this host grants INVITE_ALLOW_CUSTOM_MESSAGE).
    writeFileSync(
      file,
      readFileSync(path.join(ROOT, 'examples', 'partners.csv'), 'utf8').replaceAll(',true,,', ',true,"Welcome,\nsee you soon",'),
    );
    const result = await cli(['submit', file, '--url', host.url, '--watch']);
    expect(result.stderr).not.toContain('entra-invite:'); // the progress bar draws on stderr
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Batch cli-partners-[0-9a-f]{12}: 3 queued, 0 already known, 1 rejected\./);
    expect(result.stdout).toContain("line 8: invitedUserEmailAddress must not contain '+'");
    expect(result.stdout).toContain('3 people: Invited 3.');
    // Two rows carry a message for Graph's email, which Graph leaves out for an app: said, not hidden.
    expect(result.stdout).toContain('Warning (2 people): invitedUserMessageInfo.customizedMessageBody will not be in the email');
    const results: Record<string, string>[] = parse(readFileSync(path.join(folder, 'partners-results.csv'), 'utf8'), { columns: true });
    expect(results.filter((row) => row.warning).map((row) => row.email)).toEqual([
      'ava.jones@fabrikam.com',
      'chloe.martin@northwind.example',
    ]);
    expect(results.map((row) => [row.email, row.status])).toEqual([
      ['ava.jones@fabrikam.com', 'Invited'],
      ['ben.miller@fabrikam.com', 'Invited'],
      ['chloe.martin@northwind.example', 'Invited'],
      // The row the intake rejected is in the results too, with the address it held.
      ['dan+test@fabrikam.com', 'Rejected'],
    ]);
    // Numbered as the file numbers it, with the row as the file has it.
    expect(results[3]).toMatchObject({
      row: '4',
      displayName: 'Dan Test',
      submitted: 'dan+test@fabrikam.com,https://myapps.microsoft.com,false,,Dan Test,P-2004',
    });
  });

  it('exits non-zero when someone failed, and says why for a wrong signature', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'cli-'));
    const file = path.join(folder, 'verified.json');
    writeFileSync(
      file,
      JSON.stringify({
        invitations: [{ invitedUserEmailAddress: 'colleague@contoso.com', inviteRedirectUrl: 'https://myapps.microsoft.com' }],
      }),
    );
    const failed = await cli(['submit', file, '--url', host.url, '--watch']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('Failed 1');
    expect(existsSync(path.join(folder, 'verified-results.csv'))).toBe(true);

    const unsigned = await cli(['submit', file, '--url', host.url], { INTAKE_HMAC_SECRET: 'wrong' });
    expect(unsigned.code).toBe(2);
    expect(unsigned.stderr).toContain('401');
    expect(unsigned.stderr).toContain('x-signature');
  });

  it('pauses all sending, says so in status, and resumes', async () => {
    const paused = await cli(['pause', '--reason', 'Change freeze', '--url', host.url]);
    expect(paused.code).toBe(0);
    expect(paused.stdout).toMatch(/^Paused \(operator\) since \S+ by the admin key: Change freeze/);
    const status = await cli(['status', '--url', host.url]);
    expect(status.stdout).toMatch(/^Paused \(operator\) since .*Change freeze\. \d+ message\(s\) wait\./);
    expect((await deps.sendingPause.current())?.reason).toBe('Change freeze');
    const resumed = await cli(['resume', '--url', host.url]);
    expect(resumed.stdout).toContain('Sending resumed.');
    expect((await cli(['status', '--url', host.url])).stdout.trim()).toBe('Sending.');
  });

  it('never prints a secret in its help', async () => {
    const help = await cli(['submit', '--help'], { ENTRA_INVITE_KEY: 'key-do-not-print' });
    expect(help.stdout).not.toContain(secret);
    expect(help.stdout).not.toContain('key-do-not-print');
  });
  it('plans a file row by row without writing anything, across its requests of 1,000, and writes <file>-plan.csv', async () => {
    const reader = await startEmulatedTenant({
      latencyMs: 0,
      roles: [USER_INVITE_ALL, USER_READ_ALL, POLICY_READ_ALL, ORGANIZATION_READ_ALL],
    });
    const planning = await createTestDependencies({ ...reader.settings, INTAKE_HMAC_SECRET: secret, GRAPH_MAX_READS_PER_SECOND: '300' });
    const planHost = await startHttpHost(planning);
    try {
      reader.emulator.directory.add({ mail: 'guest@fabrikam.com', userType: 'Guest' });
      const folder = mkdtempSync(path.join(tmpdir(), 'cli-'));
      const file = path.join(folder, 'roster.csv');
      const rows = [
        'guest@fabrikam.com,https://myapps.microsoft.com,Guest Person',
        'bad#row@fabrikam.com,https://myapps.microsoft.com,"Row, Bad"',
        ...Array.from({ length: 1_000 }, (_, i) => `p${i}@fabrikam.com,https://myapps.microsoft.com,P ${i}`),
        'p0@fabrikam.com,https://myapps.microsoft.com,P 0 again', // row 1,003: in the second request, a duplicate of row 3
      ];
      writeFileSync(
        file,
        [
          'version:v1.0',
          'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Name [inviteeName]',
          ...rows,
        ].join('\n'),
      );
      const [tableRows, writes] = [await tableRowCount(planning), reader.emulator.directoryWrites + reader.emulator.calls.length];
      const result = await cli(['plan', file, '--url', planHost.url]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('1003 row(s): Invite 1000, AlreadyGuest 1, Duplicate 1, Rejected 1.');
      expect(result.stdout).toContain('Guest invitations: The tenant lets members invite guests');
      const plan: Record<string, string>[] = parse(readFileSync(path.join(folder, 'roster-plan.csv'), 'utf8'), { columns: true });
      expect(plan).toHaveLength(1_003);
      expect(plan[0]).toMatchObject({ row: '1', outcome: 'AlreadyGuest' });
      expect(plan[1]).toMatchObject({
        row: '2',
        outcome: 'Rejected',
        submitted: 'bad#row@fabrikam.com,https://myapps.microsoft.com,"Row, Bad"',
      });
      expect(plan[1_002]).toMatchObject({ row: '1003', email: 'p0@fabrikam.com', outcome: 'Duplicate', duplicateOf: '3' });
      expect(await tableRowCount(planning)).toBe(tableRows);
      expect(reader.emulator.directoryWrites + reader.emulator.calls.length).toBe(writes);
    } finally {
      await planHost.stop();
      await reader.emulator.stop();
    }
  }, 120_000);

  it('splits a large file into requests of at most 1,000 in one batch, and a re-run joins the same batch', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'cli-'));
    const file = path.join(folder, 'many.json');
    writeFileSync(
      file,
      JSON.stringify({
        invitations: Array.from({ length: 1_200 }, (_, i) => ({
          invitedUserEmailAddress: `many${i}@fabrikam.com`,
          inviteRedirectUrl: 'https://myapps.microsoft.com',
        })),
      }),
    );
    const first = await cli(['submit', file, '--url', host.url]);
    expect(first.stdout).toMatch(/Batch (cli-many-[0-9a-f]{12}): 1200 queued, 0 already known, 0 rejected\./);
    const batchId = /Batch (\S+):/.exec(first.stdout)![1]!;
    const again = await cli(['submit', file, '--url', host.url]);
    expect(again.stdout).toContain(`Batch ${batchId}: 0 queued, 1200 already known, 0 rejected.`);
    const status = await cli(['status', batchId, '--url', host.url]);
    expect(status.stdout).toMatch(new RegExp(`Batch ${batchId}: 1200 people:`));
  }, 120_000);
});
