import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { invitationSchema } from '../../shared/core/invitation';
import { canonicalizePropertyNames } from '../../shared/intake/canonicalPropertyNames';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import {
  createTestDependencies,
  invitationFor,
  queuedMessages,
  queueLength,
  submit,
  tableRowCount,
  MESSAGE_POWERS,
} from '../support/harness';
import { storableInvitation } from '../support/storableBodies';
import { dependenciesBehindFaultProxy, type StorageFaultProxy } from '../support/storageFaultProxy';

// Whatever passes validation can be stored; what storage still refuses is rejected alone; a 5xx
// means storage is unavailable, and the same request is then safe to send again.

let deps: AppDependencies;
beforeAll(async () => {
  deps = await createTestDependencies(MESSAGE_POWERS);
});

describe('the schema bounds every string by what storage and Graph accept', () => {
  it.each([
    ['an externalId with a lone surrogate', { externalId: 'HR-\ud800' }, 'externalId', 'lone surrogate'],
    ['a display name with a lone surrogate', { invitedUserDisplayName: 'Ann \udc00' }, 'invitedUserDisplayName', 'lone surrogate'],
    [
      'a message with a lone surrogate',
      { invitedUserMessageInfo: { customizedMessageBody: 'Hello \ud83d' } },
      'invitedUserMessageInfo.customizedMessageBody',
      'lone surrogate',
    ],
    [
      'an externalId of 300 CJK characters (its key passes 1 KiB once encoded)',
      { externalId: '中'.repeat(300) },
      'externalId',
      'too long once encoded',
    ],
    [
      'a message of 10,000 control characters',
      { invitedUserMessageInfo: { customizedMessageBody: '\u0001'.repeat(10_000) } },
      'invitedUserMessageInfo.customizedMessageBody',
      'control characters',
    ],
    [
      'six sponsors (Entra allows five)',
      { invitedUserSponsors: Array.from({ length: 6 }, (_, i) => ({ id: `00000000-0000-4000-8000-00000000000${i}` })) },
      'invitedUserSponsors',
      'at most 5',
    ],
  ])('rejects %s with a 400 naming it, and stores nothing', async (_, extra, path, message) => {
    const rowsBefore = await tableRowCount(deps);
    const response = await submit(deps, invitationFor('bounded@fabrikam.com', extra));
    expect(response.status).toBe(400);
    expect(response.json.rejected[0].errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path, message: expect.stringContaining(message) })]),
    );
    expect(await tableRowCount(deps)).toBe(rowsBefore);
    expect(await queueLength(deps)).toBe(0);
  });

  it('rejects an email address with a lone surrogate', async () => {
    const response = await submit(deps, invitationFor('an\ud800n@fabrikam.com'));
    expect(response.status).toBe(400);
    expect(response.json.rejected[0].errors[0]).toMatchObject({
      path: 'invitedUserEmailAddress',
      message: expect.stringContaining('lone surrogate'),
    });
  });

  it('stores every generated body the schema accepts, and answers the others 400, never 5xx', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(storableInvitation('generated@fabrikam.com'), async (invitation) => {
        const response = await submit(deps, invitation);
        expect(response.status).toBeLessThan(500);
        const schemaAccepts = invitationSchema.safeParse(canonicalizePropertyNames(invitation, invitationSchema)).success;
        if (schemaAccepts) {
          accepted += 1;
          expect(response.status).toBe(202);
          const stored = await deps.store.getById(recordIdForEmail('generated@fabrikam.com'));
          expect(stored?.invitation.externalId).toBe((invitation as { externalId?: string }).externalId?.trim() || undefined);
          if (stored?.invitation.externalId)
            expect((await deps.store.findByExternalId(stored.invitation.externalId)).map((record) => record.id)).toContain(
              stored.record.id,
            );
        } else {
          expect(response.status).toBe(400);
        }
        await deps.queue.queue.clearMessages();
        await deps.store.layout.client
          .deleteEntity(`r${recordIdForEmail('generated@fabrikam.com')[0]}`, recordIdForEmail('generated@fabrikam.com'))
          .catch(() => undefined);
      }),
      { numRuns: 150 },
    );
    expect(accepted).toBeGreaterThan(10);
  }, 120_000);
});

describe('what storage refuses, and storage that goes away', () => {
  let proxy: StorageFaultProxy;
  let proxied: AppDependencies;
  beforeAll(async () => {
    ({ proxy, deps: proxied } = await dependenciesBehindFaultProxy('p'));
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('rejects alone, with a 4xx naming it, a person whose record storage refuses; the others are queued', async () => {
    proxy.configure({ refuseBodiesContaining: 'REFUSED-BY-STORAGE' });
    const response = await submit(proxied, {
      invitations: [
        invitationFor('ok1@fabrikam.com'),
        invitationFor('refused@fabrikam.com', { externalId: 'REFUSED-BY-STORAGE' }),
        invitationFor('ok2@fabrikam.com'),
      ],
    });
    proxy.configure({});
    expect(response.status).toBe(202);
    expect(response.json.rejected).toEqual([
      {
        index: 1,
        errors: [{ path: 'invitations[1]', message: expect.stringContaining('storage refused its record (PropertyValueTooLarge') }],
      },
    ]);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual(['ok1@fabrikam.com', 'ok2@fabrikam.com']);
    expect((await queuedMessages(proxied)).map((message) => message.id).sort()).toEqual(
      [recordIdForEmail('ok1@fabrikam.com'), recordIdForEmail('ok2@fabrikam.com')].sort(),
    );
    expect(await proxied.store.getById(recordIdForEmail('refused@fabrikam.com'))).toBeUndefined();
    await proxied.queue.queue.clearMessages();
  });

  it('answers 503 when storage fails part-way, and the same request sent again queues each person exactly once', async () => {
    const people = Array.from({ length: 24 }, (_, i) => invitationFor(`outage${i}@fabrikam.com`));
    const body = { batchId: 'outage-batch', invitations: people };
    proxy.configure({ failAfterRequests: 3 });
    const failed = await submit(proxied, body);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('content-type')).toContain('application/problem+json');
    expect(failed.json).toMatchObject({ status: 503, detail: expect.stringContaining('submit the same request again') });
    const queuedBefore = (await queuedMessages(proxied)).length;
    expect(queuedBefore).toBeLessThan(people.length);

    proxy.configure({});
    const retried = await submit(proxied, body);
    expect(retried.status).toBe(202);
    const ids = (await queuedMessages(proxied)).map((message) => message.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(people.map((person) => recordIdForEmail(person.invitedUserEmailAddress)).sort());
    await proxied.queue.queue.clearMessages();
  });
});
