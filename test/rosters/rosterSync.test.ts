import { parse } from 'csv-parse/sync';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_ENABLE_DISABLE_ACCOUNT_ALL, USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import type { AppDependencies } from '../../shared/appDependencies';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startWorker, waitForStatus } from '../support/pipeline';

/**
 * A partner's roster as the truth (shared/rosters/rosterSync.ts): with metadata sync=true and
 * partner=<key>, the partner's people its next roster leaves out become leavers, and only theirs;
 * a roster that would remove too many stops before anything happens, until an operator confirms.
 */

let tenant: EmulatedTenant;
let deps: AppDependencies;
let container: ContainerClient;
let running: ReturnType<typeof startWorker>;
const logs = new CapturedLogs();
const log = { info: (m: string) => logs.lines.push(m), warn: (m: string) => logs.lines.push(m) };

beforeAll(async () => {
  tenant = await startEmulatedTenant({ latencyMs: 0, roles: [USER_INVITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL] });
  deps = await createTestDependencies({ ...tenant.settings, INVITE_ALLOW_LEAVERS: 'true', SYNC_MAX_LEAVERS_PERCENT: '50' });
  container = deps.partnerOnboarding.container();
  await container.createIfNotExists();
  running = startWorker(deps, logs);
});
afterAll(async () => {
  await running?.stop();
  await tenant?.emulator.stop();
});

const SYNCED = { sync: 'true', partner: 'fabrikam' };
const roster = (emails: string[]) => JSON.stringify({ invitations: emails.map((email) => invitationFor(email)) });
async function upload(name: string, emails: string[], metadata: Record<string, string> = SYNCED) {
  const content = roster(emails);
  await container.getBlockBlobClient(name).upload(content, Buffer.byteLength(content), { metadata });
}
const exists = (name: string) => container.getBlobClient(name).exists();
const csvOf = async (name: string) =>
  parse((await container.getBlobClient(name).downloadToBuffer()).toString('utf8'), { columns: true }) as Record<string, string>[];
const enabled = (email: string) => tenant.emulator.directory.findByEmail(email)?.accountEnabled;
const statusOf = async (email: string) => (await deps.store.getById(recordIdForEmail(email)))?.record.status;

async function runUntil(file: string) {
  await waitFor(
    async () => {
      await deps.partnerOnboarding.run(log);
      return exists(file);
    },
    { timeoutMs: 30_000, what: file },
  );
}

describe("a partner's synced roster", () => {
  const [ada, bo, cy, dee] = ['ada@fabrikam.com', 'bo@fabrikam.com', 'cy@fabrikam.com', 'dee@fabrikam.com'];

  it('makes the one of three people its next roster leaves out a leaver (disabled), invites the joiner, and touches nobody else', async () => {
    await upload('fabrikam-1.json', [ada, bo, cy]);
    await runUntil('results/fabrikam-1.json-results.csv');
    // Someone invited through the API is not the partner's: no roster of theirs removes them.
    await submit(deps, invitationFor('api.person@fabrikam.com'));
    await waitForStatus(deps, recordIdForEmail('api.person@fabrikam.com'), 'Invited');

    await upload('fabrikam-2.json', [ada, cy, dee]);
    await runUntil('results/fabrikam-2.json-leavers.csv');
    expect(await csvOf('results/fabrikam-2.json-leavers.csv')).toEqual([
      expect.objectContaining({ email: bo, statusBefore: 'Invited', outcome: 'Left', action: 'disabled' }),
    ]);
    expect(await statusOf(bo)).toBe('Left');
    expect([ada, bo, cy, 'api.person@fabrikam.com'].map(enabled)).toEqual([true, false, true, true]);
    await waitForStatus(deps, recordIdForEmail(dee), 'Invited');
    expect(await exists('processed/fabrikam-2.json')).toBe(true);
  });

  it('shows the joiners and the leavers in a dry run, and does nothing', async () => {
    const callsBefore = tenant.emulator.calls.length;
    await upload('fabrikam-plan.json', [ada, dee, 'eve@fabrikam.com'], { ...SYNCED, dryRun: 'true' });
    await runUntil('results/fabrikam-plan.json-plan.csv');
    const plan = await csvOf('results/fabrikam-plan.json-plan.csv');
    expect(plan.map((line) => [line.email, line.outcome])).toEqual([
      [ada, 'AlreadyInPipeline'],
      [dee, 'AlreadyInPipeline'],
      ['eve@fabrikam.com', 'Invite'],
      [cy, 'Leave'],
    ]);
    expect(plan[3]!.realRun).toContain('LEAVER_ACTION=disable');
    expect(await statusOf(cy)).toBe('Invited');
    expect(tenant.emulator.calls.length).toBe(callsBefore);
  });

  it('stops a roster that would remove more than SYNC_MAX_LEAVERS_PERCENT, inviting and removing nobody, until an operator confirms the count', async () => {
    // ada, cy and dee are the partner's people now: a roster of dee and a newcomer would remove two of three (67% > 50%).
    await upload('fabrikam-3.json', [dee, 'fay@fabrikam.com']);
    await runUntil('results/fabrikam-3.json-leavers.csv');
    const stopped = await csvOf('results/fabrikam-3.json-leavers.csv');
    expect(stopped.map((line) => [line.email, line.outcome])).toEqual(
      expect.arrayContaining([
        [ada, 'NotDone'],
        [cy, 'NotDone'],
      ]),
    );
    expect(stopped[0]!.note).toMatch(/2 of partner fabrikam's 3 people .*SYNC_MAX_LEAVERS_PERCENT \(50%\).*allowLeavers=2/);
    expect(await deps.store.findByEmail('fay@fabrikam.com')).toEqual([]);
    expect([await statusOf(ada), await statusOf(cy)]).toEqual(['Invited', 'Invited']);
    // The next run leaves it as it is: it waits for the operator.
    expect((await deps.partnerOnboarding.run(log)).stopped).toEqual(['fabrikam-3.json']);
    expect(await exists('fabrikam-3.json')).toBe(true);

    await container.getBlobClient('fabrikam-3.json').setMetadata({ ...SYNCED, allowLeavers: '2' });
    await waitFor(
      async () => {
        await deps.partnerOnboarding.run(log);
        return (await csvOf('results/fabrikam-3.json-leavers.csv')).every((line) => line.outcome === 'Left');
      },
      { timeoutMs: 30_000, what: 'the confirmed leavers' },
    );
    expect([await statusOf(ada), await statusOf(cy)]).toEqual(['Left', 'Left']);
    expect([ada, cy, dee].map(enabled)).toEqual([false, false, true]);
    await waitForStatus(deps, recordIdForEmail('fay@fabrikam.com'), 'Invited');
  });

  it('fails a synced roster that names no partner, or when the operator does not allow leavers, saying why', async () => {
    await upload('nameless.json', ['gus@fabrikam.com'], { sync: 'true' });
    await runUntil('failed/nameless.json.error.txt');
    expect((await container.getBlobClient('failed/nameless.json.error.txt').downloadToBuffer()).toString()).toContain('partner=<key>');

    const refusing = await createTestDependencies({ ...tenant.settings, INVITE_ALLOW_LEAVERS: 'false' });
    const refusingContainer = refusing.partnerOnboarding.container();
    await refusingContainer.createIfNotExists();
    const content = roster(['hal@fabrikam.com']);
    await refusingContainer.getBlockBlobClient('refused.json').upload(content, content.length, { metadata: SYNCED });
    expect((await refusing.partnerOnboarding.run(log)).failed).toEqual(['refused.json']);
    expect((await refusingContainer.getBlobClient('failed/refused.json.error.txt').downloadToBuffer()).toString()).toContain(
      'INVITE_ALLOW_LEAVERS',
    );
    expect(await refusing.store.findByEmail('hal@fabrikam.com')).toEqual([]);
  });
});
