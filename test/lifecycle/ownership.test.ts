import { afterEach, describe, expect, it } from 'vitest';
import { resetRedemption } from '../../functions/resetRedemption';
import { runLifecycle } from '../../functions/runLifecycle';
import {
  USER_ENABLE_DISABLE_ACCOUNT_ALL,
  USER_INVITE_ALL,
  USER_READ_ALL,
  USER_READ_WRITE_ALL,
} from '../../local/graphEmulator/graphEmulator';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationFor, invokeHttp, submit, writeRecord } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startPipeline, waitForStatus } from '../support/pipeline';

/**
 * The app disables, deletes and resets only the guest its own invitation created
 * (shared/lifecycle/guestOwnership.ts), and its destructive runs are dry runs unless told otherwise.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const JSON_CONTENT = { 'content-type': 'application/json' };
const MINUTE = 60_000;

function managingPipeline(env: Record<string, string> = {}, roles = [USER_INVITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL]) {
  return startPipeline(cleanup, { roles }, env);
}

/**
 * A person whose first attempt failed long ago, whom an admin then invited by hand, submitted
 * again: Graph answers the new invitation with the admin's guest.
 */
async function personAnAdminInvited(pipeline: Awaited<ReturnType<typeof managingPipeline>>, email: string) {
  const { deps, tenant } = pipeline;
  const id = recordIdForEmail(email);
  tenant.emulator.script(email, [{ status: 400 }]);
  await submit(deps, invitationFor(email));
  await waitForStatus(deps, id, 'Failed');
  await writeRecord(deps, id, { createdAt: new Date(Date.now() - 60 * MINUTE).toISOString() });
  const admins = tenant.emulator.directory.add({
    mail: email,
    userType: 'Guest',
    createdDateTime: new Date(Date.now() - 30 * MINUTE).toISOString(),
  });
  await submit(deps, invitationFor(email));
  const record = await waitForStatus(deps, id, 'Invited');
  expect(record.invitedUserId).toBe(admins.id);
  return { id, admins };
}

describe('only the guest this app created', () => {
  it('never expires a guest an admin invited by hand between two attempts, while expiring its own', async () => {
    const pipeline = await managingPipeline({ EXPIRE_AFTER: 'PT1S', EXPIRED_ACTION: 'disable' });
    const { deps, tenant } = pipeline;
    const handmade = await personAnAdminInvited(pipeline, 'handmade@fabrikam.com');
    const ours = recordIdForEmail('ours@fabrikam.com');
    await submit(deps, invitationFor('ours@fabrikam.com'));
    await waitForStatus(deps, ours, 'Invited');

    await waitFor(
      async () => {
        await deps.redemptionTracker.run();
        return (await deps.store.getById(ours))?.record.status === 'Expired';
      },
      { what: 'our own guest to expire' },
    );
    expect(tenant.emulator.directory.findByEmail('ours@fabrikam.com')).toMatchObject({ accountEnabled: false });
    expect((await deps.store.getById(ours))?.record.ownedUserId).toBe(tenant.emulator.directory.findByEmail('ours@fabrikam.com')!.id);
    // The admin's guest: read, past EXPIRE_AFTER, and left alone.
    const record = (await deps.store.getById(handmade.id))!.record;
    expect(record).toMatchObject({ status: 'Invited', externalUserState: 'PendingAcceptance' });
    expect(record.ownedUserId).toBeUndefined();
    expect(tenant.emulator.directory.users.get(handmade.admins.id)).toMatchObject({ accountEnabled: true });
  });

  it('finds the guest its own lost call created moments ago (no eventually consistent query), once, and records it as its own', async () => {
    const { deps, tenant } = await managingPipeline();
    const email = 'lost-answer@fabrikam.com';
    // Graph created the guest, then a gateway answered 504: the retry looks the person up at once.
    tenant.emulator.script(email, [{ status: 504, createsFirst: true }]);
    await submit(deps, invitationFor(email));
    const record = await waitForStatus(deps, recordIdForEmail(email), 'Invited');
    const guest = tenant.emulator.directory.findByEmail(email)!;
    expect(record).toMatchObject({ foundByLookup: true, invitedUserId: guest.id, ownedUserId: guest.id });
    expect(tenant.emulator.callsFor(email)).toHaveLength(1);
  });

  it('records a member found by the lookup as already in the directory: Failed, never ours, never a guest', async () => {
    const { deps, tenant } = await managingPipeline();
    const email = 'colleague@fabrikam.com';
    const member = tenant.emulator.directory.add({ mail: email, userType: 'Member' });
    // The first call's answer is a gateway's 500: it may have reached Graph, so the retry looks the person up first.
    tenant.emulator.script(email, [{ status: 500 }]);
    await submit(deps, invitationFor(email));
    const record = await waitForStatus(deps, recordIdForEmail(email), 'Failed');
    expect(record.error).toMatchObject({ code: 'AlreadyInDirectory', message: expect.stringContaining(member.id) });
    expect(record.ownedUserId).toBeUndefined();
    expect(tenant.emulator.callsFor(email)).toHaveLength(1);
  });

  it('resets the redemption of its own guest for an operator, and refuses a guest it did not create', async () => {
    // A reset needs User.ReadWrite.All (an app-only reset, Graph's invitation reference).
    const pipeline = await managingPipeline({}, [USER_INVITE_ALL, USER_READ_ALL, USER_READ_WRITE_ALL]);
    const { deps, tenant } = pipeline;
    const email = 'lost-access@fabrikam.com';
    const id = recordIdForEmail(email);
    await submit(deps, invitationFor(email));
    await waitForStatus(deps, id, 'Invited');
    tenant.emulator.redeem(email);
    await deps.redemptionTracker.run();
    const guestId = tenant.emulator.directory.findByEmail(email)!.id;

    const reset = await invokeHttp(resetRedemption, deps, {
      method: 'POST',
      path: `/api/invitations/${id}/reset-redemption`,
      params: { id },
      headers: JSON_CONTENT,
    });
    expect(reset.status).toBe(202);
    expect(reset.json).toEqual({ id, status: 'Queued', guestId });
    const call = await waitFor(async () => tenant.emulator.callsFor(email)[1]?.status && tenant.emulator.callsFor(email)[1], {
      what: 'the reset call, answered',
    });
    expect(call).toMatchObject({ status: 201, resetRedemptionOf: guestId });
    const record = await waitFor(async () => {
      const stored = (await deps.store.getById(id))?.record;
      return stored?.status === 'Invited' && stored.redemptionResetAt !== undefined && stored;
    });
    expect(record).toMatchObject({ ownedUserId: guestId, invitedUserId: guestId, externalUserState: 'PendingAcceptance' });
    expect(record.resetRedemptionDue).toBeUndefined();
    expect(tenant.emulator.directory.users.get(guestId)).toMatchObject({ externalUserState: 'PendingAcceptance' });

    const handmade = await personAnAdminInvited(pipeline, 'someone-elses@fabrikam.com');
    const callsBefore = tenant.emulator.calls.length;
    const refused = await invokeHttp(resetRedemption, deps, {
      method: 'POST',
      path: `/api/invitations/${handmade.id}/reset-redemption`,
      params: { id: handmade.id },
      headers: JSON_CONTENT,
    });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.json.detail).toContain('not created by this app');
    expect((await deps.store.getById(handmade.id))?.record.status).toBe('Invited');
    expect(tenant.emulator.calls.length).toBe(callsBefore);
  });
});

describe('destructive runs are dry runs unless told otherwise', () => {
  it('POST /api/lifecycle/run without dryRun=false changes nothing', async () => {
    const { deps, tenant } = await managingPipeline({ EXPIRE_AFTER: 'PT1S', EXPIRED_ACTION: 'disable' });
    const email = 'dry@fabrikam.com';
    await submit(deps, invitationFor(email));
    const id = recordIdForEmail(email);
    await waitForStatus(deps, id, 'Invited');
    const answer = await waitFor(
      async () => {
        const run = await invokeHttp(runLifecycle, deps, { method: 'POST', path: '/api/lifecycle/run', headers: JSON_CONTENT });
        return run.json.affected.length > 0 && run.json;
      },
      { what: 'someone due to expire' },
    );
    expect(answer).toMatchObject({ dryRun: true, affected: [expect.objectContaining({ id, change: 'expired', action: 'disabled' })] });
    expect((await deps.store.getById(id))?.record.status).toBe('Invited');
    expect(tenant.emulator.directory.findByEmail(email)).toMatchObject({ accountEnabled: true });

    const applied = await invokeHttp(runLifecycle, deps, {
      method: 'POST',
      path: '/api/lifecycle/run?dryRun=false',
      headers: JSON_CONTENT,
    });
    expect(applied.json).toMatchObject({ dryRun: false, affected: [expect.objectContaining({ id, change: 'expired' })] });
    expect(tenant.emulator.directory.findByEmail(email)).toMatchObject({ accountEnabled: false });
  });

  it('the timer’s first run under a new EXPIRE_AFTER only reports who would expire; the next one expires them', async () => {
    const { deps, tenant } = await managingPipeline({ EXPIRE_AFTER: 'PT1S', EXPIRED_ACTION: 'disable' });
    const email = 'first-run@fabrikam.com';
    await submit(deps, invitationFor(email));
    const id = recordIdForEmail(email);
    await waitForStatus(deps, id, 'Invited');
    await waitFor(async () => Date.now() - Date.parse((await deps.store.getById(id))!.record.invitedAt!) > 1_100, {
      what: 'EXPIRE_AFTER to pass',
    });

    const first = await deps.redemptionTracker.runOnSchedule();
    expect(first.expiryReportedOnly).toContain('only reports');
    expect(first.affected).toEqual([expect.objectContaining({ id, change: 'expired', action: 'disabled', reportedOnly: true })]);
    expect((await deps.store.getById(id))?.record.status).toBe('Invited');
    expect(tenant.emulator.directory.findByEmail(email)).toMatchObject({ accountEnabled: true });

    const second = await deps.redemptionTracker.runOnSchedule();
    expect(second.expiryReportedOnly).toBeUndefined();
    expect((await deps.store.getById(id))?.record).toMatchObject({ status: 'Expired', expiredAction: 'disabled' });
    expect(tenant.emulator.directory.findByEmail(email)).toMatchObject({ accountEnabled: false });
  });
});

describe('a refused expiry action', () => {
  it('fails that person’s action alone, with Graph’s reason, goes on with the others, and waits before trying again', async () => {
    // The app may read users but not disable them: each disable is refused with a 403.
    const { deps, tenant } = await startPipeline(
      cleanup,
      { roles: [USER_INVITE_ALL, USER_READ_ALL] },
      { EXPIRE_AFTER: 'PT1S', EXPIRED_ACTION: 'disable' },
    );
    const emails = ['stuck1@fabrikam.com', 'stuck2@fabrikam.com'];
    await submit(deps, { invitations: emails.map((email) => invitationFor(email)) });
    for (const email of emails) await waitForStatus(deps, recordIdForEmail(email), 'Invited');
    const run = await waitFor(
      async () => {
        const answer = await deps.redemptionTracker.run();
        return answer.affected.length === 2 && answer;
      },
      { what: 'both due to expire' },
    );
    expect(run.stoppedBecause).toBeUndefined();
    expect(run.affected).toEqual(
      emails.map(() =>
        expect.objectContaining({ change: 'expired', action: 'disabled', failed: expect.stringContaining('Authorization_RequestDenied') }),
      ),
    );
    for (const email of emails) {
      const record = (await deps.store.getById(recordIdForEmail(email)))!.record;
      expect(record).toMatchObject({
        status: 'Invited',
        actionFailures: 1,
        actionError: expect.stringContaining('Insufficient privileges'),
      });
      expect(Date.parse(record.actionRetryAt!)).toBeGreaterThan(Date.now() + 59 * MINUTE);
      expect(tenant.emulator.directory.findByEmail(email)).toMatchObject({ accountEnabled: true });
    }
    // Within the backoff, the next run does not ask Graph again.
    const again = await deps.redemptionTracker.run();
    expect(again.affected).toHaveLength(2);
    for (const email of emails) expect((await deps.store.getById(recordIdForEmail(email)))!.record.actionFailures).toBe(1);
  });
});
