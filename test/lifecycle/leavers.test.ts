import { afterEach, describe, expect, it } from 'vitest';
import { USER_ENABLE_DISABLE_ACCOUNT_ALL, USER_INVITE_ALL, USER_READ_ALL } from '../../local/graphEmulator/graphEmulator';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { invitationEventSchema } from '../../shared/lifecycle/invitationEvents';
import { invitationFor, submit } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startHttpHost, startPipeline, waitForStatus } from '../support/pipeline';
import { startEventDelivery, startEventReceiver } from '../support/eventReceiver';

/**
 * Leavers (shared/lifecycle/leavers.ts) through the local host's DELETE routes, the worker and the
 * emulated tenant: Left at once with its CloudEvent, LEAVER_ACTION on the guest this app created
 * and on nobody else, after LEAVER_GRACE; a leaver who comes back is enabled again, not re-invited.
 */

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const LEAVER_ROLES = [USER_INVITE_ALL, USER_READ_ALL, USER_ENABLE_DISABLE_ACCOUNT_ALL];
const NOTIFY_SECRET = 'leaver-events-secret-0123456789abcdefgh';

async function leaverPipeline(env: Record<string, string> = {}) {
  const receiver = await startEventReceiver();
  cleanup.push(receiver.stop);
  const pipeline = await startPipeline(
    cleanup,
    { roles: LEAVER_ROLES },
    { INVITE_ALLOW_LEAVERS: 'true', NOTIFY_URL: receiver.url, NOTIFY_HMAC_SECRET: NOTIFY_SECRET, ...env },
  );
  const delivery = startEventDelivery(pipeline.deps, pipeline.logs);
  cleanup.push(delivery.stop);
  const host = await startHttpHost(pipeline.deps);
  cleanup.push(() => host.stop());
  const api = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${host.url}/api/${path}`, init);
    return {
      status: response.status,
      type: response.headers.get('content-type')?.split(';')[0],
      json: (await response.json()) as Record<string, any>,
    };
  };
  const events = () => receiver.received.map((event) => invitationEventSchema.parse(JSON.parse(event.body)));
  return { ...pipeline, api, events };
}

const PEOPLE = ['stays.one@fabrikam.com', 'leaves@fabrikam.com', 'stays.two@fabrikam.com'];

describe('a leaver', () => {
  it('is Left at once, heard of in a CloudEvent, and only their guest is disabled; coming back enables it again, with no second invitation', async () => {
    const { deps, tenant, api, events } = await leaverPipeline();
    await submit(deps, { invitations: PEOPLE.map((email, n) => invitationFor(email, { externalId: `HR-${n + 1}` })) });
    for (const email of PEOPLE) await waitForStatus(deps, recordIdForEmail(email), 'Invited');

    const left = await api('invitations?externalId=HR-2', { method: 'DELETE' });
    expect(left.status).toBe(200);
    const id = recordIdForEmail('leaves@fabrikam.com');
    expect(left.json.items).toEqual([{ id, status: 'Left', leftAt: expect.any(String), action: 'disabled' }]);
    const directory = tenant.emulator.directory;
    expect(PEOPLE.map((email) => directory.findByEmail(email)!.accountEnabled)).toEqual([true, false, true]);
    expect((await deps.store.getById(id))!.record).toMatchObject({
      status: 'Left',
      statusBeforeLeaving: 'Invited',
      leaverAction: 'disabled',
      leftBecause: 'DELETE /api/invitations?externalId=',
    });
    const leftEvent = await waitFor(async () => events().find((event) => event.data.id === id && event.data.status === 'Left'), {
      what: 'the leaver’s event',
    });
    expect(leftEvent).toMatchObject({ type: 'com.entra-invite-pipeline.invitation.left', data: { externalId: 'HR-2' } });
    // Asked again (an HR webhook retried): the same leaver, nothing done twice.
    expect((await api(`invitations/${id}`, { method: 'DELETE' })).json).toMatchObject({ id, status: 'Left', action: 'disabled' });

    const back = await submit(deps, invitationFor('leaves@fabrikam.com', { externalId: 'HR-2' }));
    expect(back.json.items[0]).toMatchObject({ id, status: 'Invited', returned: true });
    await waitFor(async () => (await deps.store.getById(id))?.record.reenableStatus === 'Enabled', { what: 'the guest enabled again' });
    expect(directory.findByEmail('leaves@fabrikam.com')!.accountEnabled).toBe(true);
    const returned = (await deps.store.getById(id))!.record;
    expect([returned.status, returned.leftAt, returned.leaverAction]).toEqual(['Invited', undefined, undefined]);
    expect(tenant.emulator.callsFor('leaves@fabrikam.com').map((call) => call.status)).toEqual([201]);
    await waitFor(
      async () => events().some((event) => event.data.id === id && event.data.status === 'Invited' && event.time > leftEvent.time),
      {
        what: 'the return’s event',
      },
    );
  });

  it('leaves alone a user this app did not create: the record says Left, and why nothing was done', async () => {
    const { deps, tenant, api } = await leaverPipeline();
    const earlier = tenant.emulator.directory.add({ mail: 'invited.before@fabrikam.com', userType: 'Guest' });
    await submit(deps, invitationFor('invited.before@fabrikam.com'));
    const id = recordIdForEmail('invited.before@fabrikam.com');
    await waitForStatus(deps, id, 'Invited');
    const left = await api(`invitations/${id}`, { method: 'DELETE' });
    expect(left.json).toMatchObject({ status: 'Left', action: 'reported', note: expect.stringContaining('not a guest this app created') });
    expect(earlier.accountEnabled).toBe(true);
  });

  it('waits for LEAVER_GRACE, and a leaver who comes back within it is never switched off', async () => {
    const { deps, tenant, api } = await leaverPipeline({ LEAVER_GRACE: 'PT2S' });
    await submit(deps, { invitations: ['grace.one@fabrikam.com', 'grace.two@fabrikam.com'].map((email) => invitationFor(email)) });
    const [one, two] = ['grace.one@fabrikam.com', 'grace.two@fabrikam.com'].map((email) => recordIdForEmail(email));
    for (const id of [one!, two!]) await waitForStatus(deps, id, 'Invited');
    for (const id of [one!, two!]) {
      const left = await api(`invitations/${id}`, { method: 'DELETE' });
      expect(left.json).toMatchObject({ status: 'Left', actionDueAt: expect.any(String) });
      expect(left.json.action).toBeUndefined();
    }
    // The second comes back within the grace: nothing was done, and nothing will be.
    expect((await submit(deps, invitationFor('grace.two@fabrikam.com'))).json.items[0]).toMatchObject({
      status: 'Invited',
      returned: true,
    });
    const run = await waitFor(
      async () => {
        const tracked = await deps.redemptionTracker.run();
        return tracked.affected.some((person) => person.change === 'left') ? tracked : undefined;
      },
      { what: 'the grace to pass' },
    );
    expect(run.affected.filter((person) => person.change === 'left')).toEqual([expect.objectContaining({ id: one, action: 'disabled' })]);
    const directory = tenant.emulator.directory;
    expect(directory.findByEmail('grace.one@fabrikam.com')!.accountEnabled).toBe(false);
    expect(directory.findByEmail('grace.two@fabrikam.com')!.accountEnabled).toBe(true);
    expect((await deps.store.getById(two!))!.record.status).toBe('Invited');
  });

  it('is refused (403 naming INVITE_ALLOW_LEAVERS) unless the operator allows leavers, and nothing changes', async () => {
    const { deps, tenant, api } = await leaverPipeline({ INVITE_ALLOW_LEAVERS: 'false' });
    await submit(deps, invitationFor('kept@fabrikam.com', { externalId: 'HR-9' }));
    const id = recordIdForEmail('kept@fabrikam.com');
    await waitForStatus(deps, id, 'Invited');
    for (const path of [`invitations/${id}`, 'invitations?externalId=HR-9']) {
      const refused = await api(path, { method: 'DELETE' });
      expect(refused).toMatchObject({ status: 403, type: 'application/problem+json' });
      expect(refused.json.detail).toContain('INVITE_ALLOW_LEAVERS');
    }
    expect((await deps.store.getById(id))!.record.status).toBe('Invited');
    expect(tenant.emulator.directory.findByEmail('kept@fabrikam.com')!.accountEnabled).toBe(true);
  });

  it('answers 404 for nobody and 400 without an externalId, changing nothing', async () => {
    const { api } = await leaverPipeline();
    expect((await api(`invitations/${'0'.repeat(32)}`, { method: 'DELETE' })).status).toBe(404);
    expect((await api('invitations?externalId=nobody', { method: 'DELETE' })).status).toBe(404);
    const bad = await api('invitations?externalId=', { method: 'DELETE' });
    expect(bad).toMatchObject({ status: 400, type: 'application/problem+json' });
  });
});
