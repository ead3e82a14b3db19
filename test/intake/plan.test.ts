import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORGANIZATION_READ_ALL, POLICY_READ_ALL, USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import type { LocalFunctionHost } from '../../local/functionHost';
import type { AppDependencies } from '../../shared/appDependencies';
import { PLAN_CSV_COLUMNS, type InvitationPlan } from '../../shared/intake';
import { createTestDependencies, invitationFor, queueLength, submit, tableRowCount } from '../support/harness';
import { startEmulatedTenant, type EmulatedTenant } from '../support/graphEmulator';
import { startHttpHost } from '../support/pipeline';

/**
 * `POST /api/invitations?dryRun=true` (shared/intake/invitationPlanner.ts), through the local host
 * over HTTP, with the Graph emulator holding guests (pending and accepted) and members: one entry
 * per row with what the real submission would do, and nothing written anywhere.
 */
describe('a plan before inviting', () => {
  let tenant: EmulatedTenant;
  let deps: AppDependencies;
  let host: LocalFunctionHost;

  beforeAll(async () => {
    tenant = await startEmulatedTenant({ roles: [USER_INVITE_ALL, USER_READ_ALL, POLICY_READ_ALL, ORGANIZATION_READ_ALL] });
    deps = await createTestDependencies({ ...tenant.settings, INVITE_BLOCKED_DOMAINS: 'blocked.example' });
    host = await startHttpHost(deps);
  });
  afterAll(async () => {
    await host?.stop();
    await tenant?.emulator.stop();
  });

  const plan = (body: unknown, query = 'dryRun=true', headers: Record<string, string> = {}) =>
    fetch(`${host.url}/api/invitations?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('says for each row, in order, whether it invites, finds a guest or a member, has the person already, repeats a row, or is rejected', async () => {
    const pending = tenant.emulator.directory.add({ mail: 'pending@fabrikam.com', userType: 'Guest' });
    const accepted = tenant.emulator.directory.add({ mail: 'accepted@fabrikam.com', userType: 'Guest' });
    tenant.emulator.directory.redeem('accepted@fabrikam.com');
    tenant.emulator.directory.add({ mail: 'colleague@contoso.com', userType: 'Member' });
    expect((await submit(deps, invitationFor('known@fabrikam.com'))).status).toBe(202); // no worker: stays Queued

    const response = await plan({
      invitations: [
        invitationFor('new@fabrikam.com', { sendInvitationMessage: true }),
        invitationFor('Pending@Fabrikam.com', { sendInvitationMessage: true }),
        invitationFor('accepted@fabrikam.com'),
        invitationFor('colleague@contoso.com'),
        invitationFor('known@fabrikam.com'),
        invitationFor('NEW@fabrikam.com'),
        { invitedUserEmailAddress: 'not an address', invitedUserDisplayName: 'Nobody', inviteRedirectUrl: 'https://myapps.microsoft.com' },
        invitationFor('someone@blocked.example'),
      ],
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as InvitationPlan;
    expect(answer.entries.map(({ row, email, outcome }) => [row, email, outcome])).toEqual([
      [1, 'new@fabrikam.com', 'Invite'],
      [2, 'pending@fabrikam.com', 'AlreadyGuest'],
      [3, 'accepted@fabrikam.com', 'AlreadyGuest'],
      [4, 'colleague@contoso.com', 'AlreadyMember'],
      [5, 'known@fabrikam.com', 'AlreadyInPipeline'],
      [6, 'new@fabrikam.com', 'Duplicate'],
      [7, 'not an address', 'Rejected'],
      [8, 'someone@blocked.example', 'Rejected'],
    ]);
    const [invite, pendingGuest, acceptedGuest, member, known, duplicate, invalid, blocked] = answer.entries;
    expect(invite).toMatchObject({ callsGraph: true, realRun: expect.stringContaining('with the invitation email') });
    expect(invite!.directoryNotChecked).toBeUndefined();
    expect(pendingGuest).toMatchObject({
      guest: { id: pending.id, externalUserState: 'PendingAcceptance' },
      realRun: expect.stringContaining('sends the existing guest the invitation again'),
    });
    expect(acceptedGuest).toMatchObject({
      guest: { id: accepted.id, externalUserState: 'Accepted' },
      realRun: expect.stringContaining('sends nothing'),
    });
    // A member's object id is not told: the plan says the address is taken, not by whom.
    expect(member).not.toHaveProperty('guest');
    expect(JSON.stringify(member)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(known).toMatchObject({ record: { status: 'Queued' }, callsGraph: false, realRun: expect.stringContaining('duplicate') });
    expect(duplicate).toMatchObject({ duplicateOf: 1, callsGraph: false });
    expect(invalid).toMatchObject({
      reasons: [expect.objectContaining({ path: 'invitations[6].invitedUserEmailAddress' })],
      submitted: { email: 'not an address', displayName: 'Nobody' },
    });
    expect(blocked!.reasons![0]!.message).toContain('INVITE_BLOCKED_DOMAINS');

    expect(answer.summary).toMatchObject({
      rows: 8,
      counts: { Invite: 1, AlreadyGuest: 2, AlreadyMember: 1, AlreadyInPipeline: 1, Duplicate: 1, Rejected: 2 },
      // new, pending, accepted and the member's address would go to Graph; two of them with an email.
      graphWrites: 4,
      emails: 2,
      graphReads: 4 + 2, // one lookup per address the app does not have, and the tenant's two settings
    });
    expect(answer.summary.minutes).toBeGreaterThan(0);
    expect(answer.tenant.guestInvites).toMatchObject({ status: 'allowed', allowInvitesFrom: 'everyone' });
    expect(answer.tenant.directoryQuota).toMatchObject({ status: 'fits', toAdd: 1, total: 50_000 });
  });

  it('writes nothing: no record, no batch row, no key, no message, nothing asked of Graph but reads', async () => {
    const [rows, messages, writes, invitations] = [
      await tableRowCount(deps),
      await queueLength(deps),
      tenant.emulator.directoryWrites,
      tenant.emulator.calls.length,
    ];
    const body = {
      batchId: 'planned-only',
      invitations: [invitationFor('fresh@fabrikam.com', { groups: [] }), invitationFor('second@fabrikam.com')],
    };
    for (const format of ['json', 'csv'])
      expect((await plan(body, `dryRun=true&format=${format}`, { 'idempotency-key': `plan-${format}` })).status).toBe(200);
    expect(await tableRowCount(deps)).toBe(rows);
    expect(await queueLength(deps)).toBe(messages);
    expect(tenant.emulator.directoryWrites).toBe(writes);
    expect(tenant.emulator.calls.length).toBe(invitations);
    // And the same key then submits for real: the plan held nothing under it.
    const real = await fetch(`${host.url}/api/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'plan-json' },
      body: JSON.stringify(body),
    });
    expect(real.status).toBe(202);
    expect(real.headers.get('idempotent-replayed')).toBeNull();
  });

  it('answers as CSV for ?format=csv or Accept: text/csv, a line per row with what it held', async () => {
    const body = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Name [inviteeName]',
      'csv.one@fabrikam.com,https://myapps.microsoft.com,One',
      'bad#row@fabrikam.com,https://myapps.microsoft.com,"Row, Bad"',
    ].join('\n');
    for (const [query, headers] of [
      ['dryRun=true&format=csv', {}],
      ['dryRun=true', { accept: 'text/csv' }],
    ] as const) {
      const response = await plan(body, query, { 'content-type': 'text/csv', ...headers });
      expect(response.headers.get('content-type')).toContain('text/csv');
      const rows: Record<string, string>[] = parse(await response.text(), { columns: true });
      expect(Object.keys(rows[0]!)).toEqual([...PLAN_CSV_COLUMNS]);
      expect(rows.map((row) => [row.row, row.email, row.outcome])).toEqual([
        ['1', 'csv.one@fabrikam.com', 'Invite'],
        ['2', 'bad#row@fabrikam.com', 'Rejected'],
      ]);
      expect(rows[1]).toMatchObject({ displayName: 'Row, Bad', submitted: 'bad#row@fabrikam.com,https://myapps.microsoft.com,"Row, Bad"' });
    }
  });

  it('refuses a dryRun that is neither true nor false, naming it, and writes nothing', async () => {
    const rows = await tableRowCount(deps);
    const response = await plan({ invitations: [invitationFor('maybe@fabrikam.com')] }, 'dryRun=yes');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(((await response.json()) as { detail: string }).detail).toContain('dryRun');
    expect(await tableRowCount(deps)).toBe(rows);
  });
});

describe("a plan where the tenant's settings say no, or may not be read", () => {
  it('says when guests may not be invited, or the directory has no room, and what is not checked without a permission', async () => {
    const restricted = await startEmulatedTenant({ roles: [USER_INVITE_ALL, USER_READ_ALL, POLICY_READ_ALL, ORGANIZATION_READ_ALL] });
    const bare = await startEmulatedTenant({ roles: [USER_INVITE_ALL] });
    try {
      restricted.emulator.directory.allowInvitesFrom = 'adminsAndGuestInviters';
      restricted.emulator.directory.directoryQuota = { total: 121, usedBesidesUsers: 120 };
      const body = JSON.stringify({ invitations: [invitationFor('a@fabrikam.com'), invitationFor('b@fabrikam.com')] });
      const planOf = async (tenant: EmulatedTenant) => {
        const deps = await createTestDependencies(tenant.settings);
        const plan = await deps.intake.plan({ contentType: 'application/json', body: new TextEncoder().encode(body) });
        return plan;
      };
      const tight = await planOf(restricted);
      expect(tight.tenant.guestInvites).toMatchObject({ status: 'restricted', detail: expect.stringContaining('Guest Inviter') });
      expect(tight.tenant.directoryQuota).toMatchObject({
        status: 'exceeds',
        toAdd: 2,
        detail: expect.stringContaining('room for 1 more'),
      });

      restricted.emulator.directory.allowInvitesFrom = 'none';
      expect((await planOf(restricted)).tenant.guestInvites).toMatchObject({ status: 'blocked' });

      const blind = await planOf(bare);
      expect(blind.tenant.guestInvites).toMatchObject({ status: 'notChecked', permission: 'Policy.Read.All' });
      expect(blind.tenant.directoryQuota).toMatchObject({ status: 'notChecked', permission: 'Organization.Read.All' });
      // Without User.Read.All nobody can be looked up: each row says so, and still plans an invitation.
      expect(blind.entries.map((entry) => [entry.outcome, entry.directoryNotChecked])).toEqual([
        ['Invite', expect.stringContaining('User.Read.All')],
        ['Invite', expect.stringContaining('User.Read.All')],
      ]);
      expect(bare.emulator.directoryWrites + bare.emulator.calls.length).toBe(0);
    } finally {
      await restricted.emulator.stop();
      await bare.emulator.stop();
    }
  });

  it("asks again, after Graph's Retry-After, the lookups Graph throttled inside a batch", async () => {
    const throttled = await startEmulatedTenant({
      roles: [USER_INVITE_ALL, USER_READ_ALL],
      readBudget: { limit: 30, windowMs: 1_000 },
    });
    try {
      for (let i = 0; i < 20; i += 1) throttled.emulator.directory.add({ mail: `g${i}@fabrikam.com`, userType: 'Guest' });
      const deps = await createTestDependencies({ ...throttled.settings, GRAPH_MAX_READS_PER_SECOND: '1000' });
      const invitations = Array.from({ length: 40 }, (_, i) => invitationFor(`g${i}@fabrikam.com`));
      const plan = await deps.intake.plan({
        contentType: 'application/json',
        body: new TextEncoder().encode(JSON.stringify({ invitations })),
      });
      expect(plan.summary.counts).toMatchObject({ AlreadyGuest: 20, Invite: 20 });
      expect(plan.entries.filter((entry) => entry.directoryNotChecked)).toEqual([]);
      expect(plan.summary.graphReads).toBeGreaterThan(40); // some lookups were asked twice
    } finally {
      await throttled.emulator.stop();
    }
  });
});
