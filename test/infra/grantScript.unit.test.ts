import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'grant-graph-permission.sh');
const USER_INVITE_ALL = '09850681-111b-4a89-9bed-3f2cae46d706';
const USER_READWRITE_ALL = '741f803b-c850-494e-b5df-cde7c675a1ca';
const USER_DELETE_RESTORE_ALL = 'eccc023d-eccf-4e7b-9683-8813ab36cecc';
const USER_READ_ALL = 'df021288-bdef-4463-88db-98f22de89214';
const USER_ENABLE_DISABLE_ACCOUNT_ALL = '3011c876-62b7-4ada-afa2-506cbbecc68c';
const GROUP_MEMBER_READWRITE_ALL = 'dbaae8cf-10b5-4b86-a4a1-f871c94c6695';
const MAIL_SEND = 'b633e1c5-b582-4048-a93e-9f11b44c7e96';
const MAIL_READ_BASIC_ALL = '693c5e45-0940-467d-9b8a-1022fb9d42ef';
const POLICY_READ_ALL = '246dd0d5-5bd0-4def-940b-0421030a5b68';
const ORGANIZATION_READ_ALL = '498476ce-e0fe-48b0-b801-37ba7e2685c6';
const run = promisify(execFile);

/**
 * A stand-in for the Azure CLI on PATH (the real one is not installed here, and would reach
 * Azure): it logs every call and answers the way `az` does with --output tsv. Like the real
 * `az rest`, it refuses a Graph call without --resource; it can spread the assignments over two
 * pages, and answer a POST with Graph's 400 for an assignment that already exists.
 */
function fakeAz({ existingAssignment = '', assignedOnPage = 1, pages = 1, postAlreadyExists = false } = {}) {
  const folder = mkdtempSync(path.join(tmpdir(), 'fake-az-'));
  const log = path.join(folder, 'calls.log');
  writeFileSync(
    path.join(folder, 'az'),
    `#!/usr/bin/env bash
printf '%s\\n' "$*" >> "${log}"
args="$*"
case "$args" in
  "identity show"*) echo "mi-principal-id" ;;
  "ad sp show --id 00000003-0000-0000-c000-000000000000"*) echo "graph-sp-id" ;;
  "ad sp show"*) echo "app-principal-id" ;;
  "rest "*)
    [[ "$args" == *"--resource "* ]] || { echo "ERROR: --resource is required for this endpoint" >&2; exit 3; }
    if [[ "$args" == *"--method GET"* ]]; then
      page=1; [[ "$args" == *"page=2"* ]] && page=2
      if [[ "$args" == *"--query value"* ]]; then
        [ "$page" = "${assignedOnPage}" ] && echo "${existingAssignment}"
      elif [ "$page" = 1 ] && [ "${pages}" = 2 ]; then
        echo "https://graph.microsoft.com/v1.0/servicePrincipals/any/appRoleAssignments?page=2"
      fi
    elif [ "${postAlreadyExists ? 1 : 0}" = 1 ]; then
      echo 'Bad Request({"error":{"code":"Request_BadRequest","message":"Permission being assigned already exists on the object"}})' >&2
      exit 1
    fi ;;
  *) echo "unexpected az call: $*" >&2; exit 9 ;;
esac
`,
  );
  chmodSync(path.join(folder, 'az'), 0o755);
  writeFileSync(log, '');
  return { path: folder, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

async function grant(args: string[], az: ReturnType<typeof fakeAz>) {
  try {
    const { stdout, stderr } = await run('bash', [SCRIPT, ...args], { env: { ...process.env, PATH: `${az.path}:${process.env.PATH}` } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('scripts/grant-graph-permission.sh', () => {
  it('in a dry run prints every call it would make and makes none', async () => {
    const az = fakeAz();
    const result = await grant(['--resource-group', 'rg-invites', '--identity-name', 'id-invite-abc', '--dry-run'], az);
    expect(result.code).toBe(0);
    expect(az.calls()).toEqual([]);
    expect(result.stderr).toContain('would run: az identity show --resource-group rg-invites --name id-invite-abc');
    expect(result.stderr).toMatch(
      /would run: az rest --resource https:\/\/graph\.microsoft\.com --method POST --url https:\/\/graph\.microsoft\.com\/v1\.0\/servicePrincipals\/.*\/appRoleAssignments/,
    );
    expect(result.stdout).toContain(`Would grant: app role ${USER_INVITE_ALL} on Microsoft Graph`);
  });

  it("grants User.Invite.All to the managed identity's service principal", async () => {
    const az = fakeAz();
    const result = await grant(['--resource-group', 'rg-invites', '--identity-name', 'id-invite-abc'], az);
    expect(result.code).toBe(0);
    const post = az.calls().find((call) => call.includes('--method POST'))!;
    expect(post).toContain('https://graph.microsoft.com/v1.0/servicePrincipals/mi-principal-id/appRoleAssignments');
    expect(post).toContain(`{"principalId":"mi-principal-id","resourceId":"graph-sp-id","appRoleId":"${USER_INVITE_ALL}"}`);
    expect(result.stdout).toContain(`Granted: app role ${USER_INVITE_ALL}`);
  });

  it.each([
    [['--with-lifecycle'], [USER_INVITE_ALL, USER_READ_ALL]],
    [
      ['--expired-action', 'disable'],
      [USER_INVITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL],
    ],
    [
      // User.DeleteRestore.All, never User.ReadWrite.All: with it, anyone who could reset a redemption could take a user over.
      ['--with-lifecycle', '--expired-action', 'delete'],
      [USER_INVITE_ALL, USER_READ_ALL, USER_DELETE_RESTORE_ALL],
    ],
    [['--expired-action', 'report'], [USER_INVITE_ALL]],
    [
      ['--with-groups', '--with-mail'],
      [USER_INVITE_ALL, GROUP_MEMBER_READWRITE_ALL, MAIL_SEND],
    ],
    // The Sent Items check of a send whose answer was lost: reading messages without their bodies, nothing more.
    [
      ['--with-mail', '--with-mail-check'],
      [USER_INVITE_ALL, MAIL_SEND, MAIL_READ_BASIC_ALL],
    ],
    // Reads only: who is already there, and the tenant's guest-invite setting and quota.
    [['--with-plan-checks'], [USER_INVITE_ALL, USER_READ_ALL, POLICY_READ_ALL, ORGANIZATION_READ_ALL]],
    // A joiner's profile is a user write: User.ReadWrite.All, only on this flag.
    [['--with-profile'], [USER_INVITE_ALL, USER_READWRITE_ALL]],
    // Leavers: read whose guest it is, then switch it off with the narrowest permission for that; never User.ReadWrite.All.
    [
      ['--leaver-action', 'disable'],
      [USER_INVITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL],
    ],
    [
      ['--leaver-action', 'delete', '--expired-action', 'disable'],
      [USER_INVITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL, USER_DELETE_RESTORE_ALL],
    ],
  ])('with %j grants exactly the permissions it needs', async (options, roles) => {
    const az = fakeAz();
    const result = await grant(['--principal-id', 'sp-1', ...options], az);
    expect(result.code).toBe(0);
    const granted = az
      .calls()
      .filter((call) => call.includes('--method POST'))
      .map((call) => /"appRoleId":"([^"]+)"/.exec(call)?.[1]);
    expect(granted).toEqual(roles);
  });

  it('refuses a leaver action it does not know', async () => {
    const result = await grant(['--principal-id', 'sp-1', '--leaver-action', 'purge'], fakeAz());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--leaver-action takes report, disable or delete');
  });

  it('refuses an expired action it does not know', async () => {
    const result = await grant(['--principal-id', 'sp-1', '--expired-action', 'purge'], fakeAz());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--expired-action takes report, disable or delete');
  });

  it('is idempotent: an existing assignment is left alone', async () => {
    const az = fakeAz({ existingAssignment: 'assignment-1' });
    const result = await grant(['--app-id', '11111111-2222-3333-4444-555555555555'], az);
    expect(result.code).toBe(0);
    expect(az.calls().some((call) => call.includes('--method POST'))).toBe(false);
    expect(result.stdout).toContain('Already granted');
  });

  it("finds an assignment on a later page of the identity's assignments", async () => {
    const az = fakeAz({ existingAssignment: 'assignment-on-page-2', assignedOnPage: 2, pages: 2 });
    const result = await grant(['--principal-id', 'sp-1'], az);
    expect(result.code).toBe(0);
    expect(az.calls().some((call) => call.includes('page=2'))).toBe(true);
    expect(az.calls().some((call) => call.includes('--method POST'))).toBe(false);
    expect(result.stdout).toContain('Already granted: app role');
    expect(result.stdout).toContain('assignment-on-page-2');
  });

  it('takes Graph\'s 400 "already exists" as success, not failure', async () => {
    const az = fakeAz({ postAlreadyExists: true });
    const result = await grant(['--principal-id', 'sp-1'], az);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Already granted');
  });

  it("names the resource on every Graph call, so that any cloud's Graph works (DoD too)", async () => {
    const az = fakeAz();
    const result = await grant(['--principal-id', 'sp-1', '--graph-endpoint', 'https://dod-graph.microsoft.us'], az);
    expect(result.code).toBe(0);
    const rest = az.calls().filter((call) => call.startsWith('rest '));
    expect(rest.length).toBeGreaterThan(1);
    expect(rest.every((call) => call.includes('--resource https://dod-graph.microsoft.us'))).toBe(true);
  });

  it('prints clean help: the comment at its top, no code', async () => {
    const result = await grant(['--help'], fakeAz());
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--dry-run');
    expect(result.stdout).not.toMatch(/set -euo|GRAPH_APP_ID=|usage\(\)/);
  });

  it('adds User.ReadWrite.All only when asked, for an operator’s reset of a redemption, and follows a national cloud', async () => {
    const az = fakeAz();
    await grant(['--principal-id', 'sp-1', '--with-reset-redemption', '--graph-endpoint', 'https://graph.microsoft.us/'], az);
    const posts = az.calls().filter((call) => call.includes('--method POST'));
    expect(posts).toHaveLength(3);
    expect(posts[1]).toContain(USER_READ_ALL);
    expect(posts[2]).toContain(USER_READWRITE_ALL);
    expect(posts.every((call) => call.includes('https://graph.microsoft.us/v1.0/servicePrincipals/sp-1/appRoleAssignments'))).toBe(true);
  });

  it('refuses to guess the caller', async () => {
    const az = fakeAz();
    expect((await grant([], az)).code).toBe(2);
    expect((await grant(['--app-id', 'a', '--principal-id', 'b'], az)).code).toBe(2);
    expect((await grant(['--identity-name', 'id-only'], az)).stderr).toContain('--resource-group');
    expect(az.calls()).toEqual([]);
  });
});
