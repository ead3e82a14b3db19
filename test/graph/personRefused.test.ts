import { afterEach, describe, expect, it } from 'vitest';
import { getHealth } from '../../functions/getHealth';
import { MAIL_SEND, USER_INVITE_ALL } from '../../local/graphEmulator/graphEmulator';
import { CredentialCircuit } from '../../shared/graph/credentialCircuit';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { createTestDependencies, invitationFor, invokeHttp, submit, writeRecord } from '../support/harness';
import { startEmulatedTenant, waitFor } from '../support/graphEmulator';
import { startPipeline, startWorker, waitForStatus } from '../support/pipeline';

/**
 * Graph's `403 Authorization_RequestDenied` is about the app (no permission) or about one user the
 * app may not act on. The second fails that person alone; only the first holds everyone.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

describe('a 403 about one person', () => {
  it('fails that person alone, with Graph’s answer, while everyone else is invited and health stays 200', async () => {
    const denied = 'protected@fabrikam.com';
    const { deps, tenant } = await startPipeline(cleanup, { faults: { deniedEmails: [denied] } }, { GRAPH_SIGNIN_PROBE_SECONDS: '0.5' });
    const others = ['o1@fabrikam.com', 'o2@fabrikam.com', 'o3@fabrikam.com'];
    await submit(deps, { invitations: [denied, ...others].map((email) => invitationFor(email)) });
    const refused = await waitForStatus(deps, recordIdForEmail(denied), 'Failed');
    expect(refused.error).toMatchObject({ code: 'Authorization_RequestDenied', httpStatus: 403 });
    for (const email of others) expect((await waitForStatus(deps, recordIdForEmail(email), 'Invited')).error).toBeUndefined();
    expect(tenant.emulator.callsFor(denied)).toHaveLength(1);
    expect(deps.credentialCircuit.state).toEqual({ state: 'ok' });
    expect((await invokeHttp(getHealth, deps, { path: '/api/health' })).status).toBe(200);
  });

  it('is the app’s, and holds everyone, when a fresh token carries no role that may invite', async () => {
    const payload = (roles?: string[]) => Buffer.from(JSON.stringify(roles ? { roles } : {})).toString('base64url');
    const tokenWith = (roles?: string[]) => ({ token: `h.${payload(roles)}.s`, expiresOnTimestamp: Date.now() + 3_600_000 });
    const withRole = new CredentialCircuit({ probe: async () => tokenWith([USER_INVITE_ALL]) });
    const withoutRole = new CredentialCircuit({ probe: async () => tokenWith([MAIL_SEND]) });
    const noRoles = new CredentialCircuit({ probe: async () => tokenWith() });
    const unavailable = new CredentialCircuit({
      probe: async () => {
        throw new Error('token endpoint down');
      },
    });
    expect(await withRole.tokenGrantsInvitations()).toBe(true);
    expect(await withoutRole.tokenGrantsInvitations()).toBe(false);
    expect(await noRoles.tokenGrantsInvitations()).toBe(false);
    expect(await unavailable.tokenGrantsInvitations()).toBe(false);
  });
});

describe('follow-up steps wait for the app’s sign-in, like invitations', () => {
  it('keeps our email Pending while the app’s secret is refused, hands the message back, and sends it once sign-in works', async () => {
    const sender = 'invitations@contoso.com';
    const tenant = await startEmulatedTenant({ roles: [USER_INVITE_ALL, MAIL_SEND] });
    cleanup.push(() => tenant.emulator.stop());
    tenant.emulator.directory.mailboxes.add(sender);
    const deps = await createTestDependencies({
      ...tenant.settings,
      INVITE_DELIVERY: 'mail',
      INVITE_SENDER: sender,
      INVITE_BRAND_NAME: 'Contoso',
      GRAPH_SIGNIN_PROBE_SECONDS: '0.5',
    });
    cleanup.push(async () => deps.credentialCircuit.dispose());
    // A worker that died after recording Invited, before its email: the message is delivered again.
    const email = 'waits@fabrikam.com';
    const id = recordIdForEmail(email);
    await submit(deps, invitationFor(email, { sendInvitationMessage: true }));
    await writeRecord(deps, id, {
      status: 'Invited',
      invitedUserId: '00000000-0000-4000-8000-000000000001',
      inviteRedeemUrl: `${tenant.emulator.url}/redeem?rd=ticket`,
      emailStatus: 'Pending',
    });
    tenant.emulator.configure({ tokenFaults: { refuseCredentialsForMs: 2_000 } });
    const running = startWorker(deps);
    cleanup.push(() => running.stop());

    await waitFor(async () => deps.credentialCircuit.state.state === 'failing', { what: 'the circuit to open' });
    expect((await deps.store.getById(id))?.record.emailStatus).toBe('Pending');
    const sent = await waitFor(async () => {
      const record = (await deps.store.getById(id))?.record;
      // Sending is the moment of the send itself (recorded just before sendMail): wait for its outcome.
      return record?.emailStatus !== 'Pending' && record?.emailStatus !== 'Sending' && record;
    });
    expect(sent.emailStatus).toBe('Sent');
    expect(tenant.emulator.directory.outbox.filter((mail) => mail.to.includes(email))).toHaveLength(1);
    expect(tenant.emulator.callsFor(email)).toEqual([]); // never invited again
  });

  it('fails a group the app may not add members to alone, naming what it needs', async () => {
    const group = crypto.randomUUID();
    const { deps, tenant } = await startPipeline(cleanup, { roles: [USER_INVITE_ALL] }, { INVITE_ALLOWED_GROUPS: group });
    tenant.emulator.directory.groups.set(group, new Set());
    await submit(deps, invitationFor('grouped@fabrikam.com', { groups: [group] }));
    const record = await waitFor(async () => {
      const found = (await deps.store.getById(recordIdForEmail('grouped@fabrikam.com')))?.record;
      return found?.groups?.[0]?.status === 'Failed' && found;
    });
    expect(record.status).toBe('Invited');
    expect(record.groups![0]!.error).toMatch(/GroupMember\.ReadWrite\.All.*RoleManagement\.ReadWrite\.Directory.*dynamic group/);
    expect(deps.credentialCircuit.state).toEqual({ state: 'ok' });
  });
});
