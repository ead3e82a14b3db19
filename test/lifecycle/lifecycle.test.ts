import { afterEach, describe, expect, it } from 'vitest';
import { runLifecycle } from '../../functions/runLifecycle';
import { listExpired } from '../../functions/listExpired';
import {
  USER_ENABLE_DISABLE_ACCOUNT_ALL,
  USER_DELETE_RESTORE_ALL,
  USER_INVITE_ALL,
  USER_READ_ALL,
} from '../../local/graphEmulator/graphEmulator';
import { verifySignature } from '../../shared/core/webhookSignature';
import { invitationEventSchema } from '../../shared/lifecycle/invitationEvents';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationFor, invokeHttp, submit } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startPipeline, waitForStatus } from '../support/pipeline';
import { startEventDelivery, startEventReceiver } from '../support/eventReceiver';

const NOTIFY_SECRET = 'lifecycle-events-secret-0123456789abcdef';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** The pipeline against a tenant whose app may invite and read users (and, with `manage`, delete them: User.DeleteRestore.All, least privilege). */
function lifecyclePipeline(env: Record<string, string>, manage = false) {
  const roles = [USER_INVITE_ALL, USER_READ_ALL, ...(manage ? [USER_DELETE_RESTORE_ALL] : [])];
  return startPipeline(cleanup, { roles }, env);
}

describe('invitation lifecycle', () => {
  it('takes a person from submission to Accepted and tells the callback receiver of both changes, signed', async () => {
    const receiver = await startEventReceiver();
    cleanup.push(receiver.stop);
    const { deps, logs, tenant } = await lifecyclePipeline({
      CALLBACK_ALLOWED_HOSTS: receiver.host,
      NOTIFY_HMAC_SECRET: NOTIFY_SECRET,
      CALLBACK_ALLOW_PRIVATE: 'true', // the receiver listens on loopback
    });
    const delivery = startEventDelivery(deps, logs);
    cleanup.push(delivery.stop);
    const email = 'ada@fabrikam.com';
    const response = await submit(deps, invitationFor(email, { externalId: 'HR-1', callbackUrl: receiver.url }));
    expect(response.status).toBe(202);
    const id = recordIdForEmail(email);
    await waitForStatus(deps, id, 'Invited');

    // Not redeemed yet: the tracker reads the guest and leaves them Invited.
    let run = await deps.redemptionTracker.run();
    expect(run).toMatchObject({ read: 1, pending: 1, affected: [] });
    expect((await deps.store.getById(id))?.record).toMatchObject({ status: 'Invited', externalUserState: 'PendingAcceptance' });

    tenant.emulator.redeem(email);
    run = await deps.redemptionTracker.run();
    expect(run.affected).toEqual([expect.objectContaining({ id, change: 'accepted' })]);
    const accepted = await waitForStatus(deps, id, 'Accepted');
    expect(accepted.acceptedAt).toBe(tenant.emulator.directory.findByEmail(email)?.externalUserStateChangeDateTime);

    await waitFor(async () => receiver.received.length >= 2, { what: 'two events at the receiver' });
    const events = receiver.received.map(({ body, headers }) => {
      const signature = verifySignature(new TextEncoder().encode(body), headers['x-signature'] as string, {
        secrets: [NOTIFY_SECRET],
        toleranceSeconds: 300,
      });
      expect(signature).not.toHaveProperty('problem');
      expect(headers['content-type']).toMatch(/^application\/cloudevents\+json/);
      expect(body).not.toMatch(/redeem/i); // the redemption URL is a credential: never in an event
      return invitationEventSchema.parse(JSON.parse(body));
    });
    // A queue does not keep order (a first delivery may be retried after the second succeeds): the
    // receiver orders events by their time, as CloudEvents consumers do.
    events.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    expect(events.map((event) => event.data.status)).toEqual(['Invited', 'Accepted']);
    expect(events[1]!.data).toMatchObject({ id, batchId: accepted.batchId, email, externalId: 'HR-1', acceptedAt: accepted.acceptedAt });
    expect(new Set(events.map((event) => event.id)).size).toBe(2);
    expect(events[0]).toMatchObject({ specversion: '1.0', subject: id, type: 'com.entra-invite-pipeline.invitation.invited' });

    // A redelivered message re-announces what it finds (the first announcement may have been lost):
    // the same change, the same event id, so the receiver can drop it.
    await deps.store.reconfirm((await deps.store.getById(id))!);
    await waitFor(async () => receiver.received.length >= 3, { what: 'the repeated event' });
    expect(invitationEventSchema.parse(JSON.parse(receiver.received[2]!.body)).id).toBe(events[1]!.id);
  });

  it('retries a failing receiver with backoff, then parks the event in its poison queue, while invitations go on', async () => {
    const receiver = await startEventReceiver(() => 503);
    cleanup.push(receiver.stop);
    const { deps, logs } = await lifecyclePipeline({
      NOTIFY_URL: receiver.url,
      NOTIFY_HMAC_SECRET: NOTIFY_SECRET,
      NOTIFY_MAX_ATTEMPTS: '3',
      NOTIFY_FIRST_RETRY_SECONDS: '0.2',
    });
    const delivery = startEventDelivery(deps, logs);
    cleanup.push(delivery.stop);
    const emails = ['one@fabrikam.com', 'two@fabrikam.com', 'three@fabrikam.com'];
    expect((await submit(deps, { invitations: emails.map((email) => invitationFor(email)) })).status).toBe(202);
    for (const email of emails) await waitForStatus(deps, recordIdForEmail(email), 'Invited');

    await waitFor(async () => ((await deps.events.poisonQueue.getProperties()).approximateMessagesCount ?? 0) === 3, {
      what: 'three events in the poison queue',
    });
    expect(receiver.received).toHaveLength(9); // 3 events × NOTIFY_MAX_ATTEMPTS
    const ids = receiver.received.map(({ body }) => invitationEventSchema.parse(JSON.parse(body)).id);
    expect(new Set(ids).size).toBe(3); // each retry is the same event
    // Logged just after the event is parked: wait for the line.
    await waitFor(async () => /not delivered to localhost:\d+ after 3 attempts \(HTTP 503\)/.test(logs.text()), {
      what: 'the poison line',
    });
    expect(logs.text()).not.toMatch(/one@fabrikam\.com/); // emails are masked in logs
  });

  it('refuses a callbackUrl whose host is not allowed, and one that is not https, with a 400 naming it', async () => {
    const { deps } = await lifecyclePipeline({ CALLBACK_ALLOWED_HOSTS: 'hooks.contoso-hr.com', NOTIFY_HMAC_SECRET: NOTIFY_SECRET });
    for (const callbackUrl of ['https://169.254.169.254/metadata', 'http://hooks.contoso-hr.com/x']) {
      const response = await submit(deps, invitationFor('bob@fabrikam.com', { callbackUrl }));
      expect(response.status).toBe(400);
      expect(response.json.rejected).toEqual([
        expect.objectContaining({ errors: [expect.objectContaining({ path: 'callbackUrl', message: expect.any(String) })] }),
      ]);
    }
    expect(await deps.store.getById(recordIdForEmail('bob@fabrikam.com'))).toBeUndefined();
  });

  it('reminds the pending, then expires only the guests it invited: never one who accepted, a member, or a guest from before', async () => {
    const { deps, tenant } = await lifecyclePipeline(
      { REMINDER_AFTER: 'PT2S', REMINDER_MAX: '1', EXPIRE_AFTER: 'PT4S', EXPIRED_ACTION: 'delete', INVITE_ALLOW_MEMBER_TYPE: 'true' },
      true,
    );
    const pending = 'pending@fabrikam.com';
    const accepting = 'accepting@fabrikam.com';
    const member = 'member@fabrikam.com';
    const earlier = 'earlier@fabrikam.com';
    const before = tenant.emulator.directory.add({ mail: earlier, userType: 'Guest' }); // invited by someone else, a year ago
    const response = await submit(deps, {
      invitations: [
        invitationFor(pending),
        invitationFor(accepting),
        invitationFor(member, { invitedUserType: 'Member' }),
        invitationFor(earlier, { resend: true }),
      ],
    });
    expect(response.status).toBe(202);
    const ids = Object.fromEntries([pending, accepting, member, earlier].map((email) => [email, recordIdForEmail(email)]));
    for (const id of Object.values(ids)) await waitForStatus(deps, id, 'Invited');
    tenant.emulator.redeem(accepting);

    // Reminders: each pending person once (REMINDER_MAX 1), through the worker, with Graph's email this time.
    await waitFor(
      async () => {
        await deps.redemptionTracker.run();
        return (await deps.store.getById(ids[pending]!))?.record.remindersSent === 1;
      },
      { timeoutMs: 20_000, what: 'a reminder' },
    );
    expect((await deps.store.getById(ids[accepting]!))?.record.status).toBe('Accepted');
    const reminderCall = await waitFor(async () => tenant.emulator.callsFor(pending)[1], { what: 'the reminder call' });
    expect(reminderCall).toMatchObject({ status: 201, sendInvitationMessage: true });
    expect(tenant.emulator.callsFor(pending)[0]).toMatchObject({ sendInvitationMessage: false });
    const reminded = await waitForStatus(deps, ids[pending]!, 'Invited');
    expect(reminded).toMatchObject({ remindersSent: 1, lastRemindedAt: expect.any(String) });
    expect(reminded.reminderDue).toBeUndefined();

    // The dry run: exactly who would be expired, and nothing changed anywhere.
    const dryRun = await waitFor(
      async () => {
        const answer = await invokeHttp(runLifecycle, deps, {
          method: 'POST',
          path: '/api/lifecycle/run?dryRun=true',
          headers: { 'content-type': 'application/json' },
        });
        return answer.json.affected.some((person: { change: string }) => person.change === 'expired') && answer.json;
      },
      { timeoutMs: 20_000, what: 'someone due to expire' },
    );
    const expiring = dryRun.affected.filter((person: { change: string }) => person.change === 'expired');
    expect(expiring).toEqual([expect.objectContaining({ id: ids[pending], email: pending, action: 'deleted' })]);
    expect((await deps.store.getById(ids[pending]!))?.record.status).toBe('Invited');
    expect(tenant.emulator.directory.findByEmail(pending)).toBeDefined();

    const run = await deps.redemptionTracker.run();
    expect(run.affected.filter((person) => person.change === 'expired').map((person) => person.id)).toEqual([ids[pending]]);
    expect((await deps.store.getById(ids[pending]!))?.record).toMatchObject({ status: 'Expired', expiredAction: 'deleted' });
    expect(tenant.emulator.directory.findByEmail(pending)).toBeUndefined();
    // Untouched: the one who accepted, the member, and the guest who was there before us.
    expect(tenant.emulator.directory.findByEmail(accepting)).toMatchObject({ accountEnabled: true, externalUserState: 'Accepted' });
    expect(tenant.emulator.directory.findByEmail(member)).toMatchObject({ accountEnabled: true });
    expect(tenant.emulator.directory.users.get(before.id)).toMatchObject({ accountEnabled: true });
    // (Reminded, like anyone pending: their reminder may still be on its way through the worker.)
    expect(await waitForStatus(deps, ids[member]!, 'Invited')).toMatchObject({ remindersSent: 1 });
    expect(await waitForStatus(deps, ids[earlier]!, 'Invited')).toMatchObject({ remindersSent: 1 });

    const listed = await invokeHttp(listExpired, deps, { path: '/api/expired' });
    expect(listed.json.items.map((person: { id: string }) => person.id)).toEqual([ids[pending]]);
    const csv = await invokeHttp(listExpired, deps, { path: '/api/expired?format=csv' });
    expect(csv.text.split('\n')[0]).toBe('id,email,externalId,batchId,invitedUserId,invitedAt,remindersSent,expiredAt,expiredAction');
    expect(csv.text).toContain(`${ids[pending]},${pending}`);
  });

  it.each([
    ['report', 'reported', true],
    ['disable', 'disabled', false],
  ] as const)(
    'with EXPIRED_ACTION=%s marks the pending person Expired (%s) , accountEnabled then %s',
    async (action, expiredAction, enabled) => {
      const { deps, tenant } = await startPipeline(
        cleanup,
        { roles: [USER_INVITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL] },
        { EXPIRE_AFTER: 'PT1S', EXPIRED_ACTION: action },
      );
      const email = `late-${action}@fabrikam.com`;
      await submit(deps, invitationFor(email));
      const id = recordIdForEmail(email);
      await waitForStatus(deps, id, 'Invited');
      await waitFor(
        async () => {
          await deps.redemptionTracker.run();
          return (await deps.store.getById(id))?.record.status === 'Expired';
        },
        { what: 'the expiry' },
      );
      expect((await deps.store.getById(id))?.record).toMatchObject({ expiredAction, expiredAt: expect.any(String) });
      expect(tenant.emulator.directory.findByEmail(email)).toMatchObject({ accountEnabled: enabled });
      // Reported, not disabled: the guest may still accept, and the tracker still watches them.
      tenant.emulator.redeem(email);
      await deps.redemptionTracker.run();
      expect((await deps.store.getById(id))?.record.status).toBe(action === 'report' ? 'Accepted' : 'Expired');
    },
  );

  it('records a guest deleted outside the pipeline as Removed', async () => {
    const { deps, tenant } = await lifecyclePipeline({});
    const email = 'gone@fabrikam.com';
    await submit(deps, invitationFor(email));
    const id = recordIdForEmail(email);
    await waitForStatus(deps, id, 'Invited');
    tenant.emulator.directory.users.delete(tenant.emulator.directory.findByEmail(email)!.id);
    const run = await deps.redemptionTracker.run();
    expect(run.affected).toEqual([expect.objectContaining({ id, change: 'removed' })]);
    expect((await deps.store.getById(id))?.record.status).toBe('Removed');
  });

  it('changes nothing and names the permission when the app may not read users', async () => {
    const { deps } = await startPipeline(cleanup, {}); // User.Invite.All only
    const email = 'unread@fabrikam.com';
    await submit(deps, invitationFor(email));
    await waitForStatus(deps, recordIdForEmail(email), 'Invited');
    const run = await deps.redemptionTracker.run();
    expect(run.stoppedBecause).toMatch(/User\.Read\.All/);
    expect(run.read).toBe(0);
    expect((await deps.store.getById(recordIdForEmail(email)))?.record).toMatchObject({ status: 'Invited' });
  });
});
