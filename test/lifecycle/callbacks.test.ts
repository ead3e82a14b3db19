import { afterEach, describe, expect, it } from 'vitest';
import { verifySignature } from '../../shared/core/webhookSignature';
import { InvitationEvents, eventOf, invitationEventSchema } from '../../shared/lifecycle/invitationEvents';
import { isInternalAddress } from '../../shared/lifecycle/receiverAddress';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { loadSettings, SettingsError } from '../../shared/settings';
import { createTestDependencies, invitationFor, submit } from '../support/harness';
import { waitFor } from '../support/graphEmulator';
import { startPipeline, waitForStatus } from '../support/pipeline';
import { startEventDelivery, startEventReceiver } from '../support/eventReceiver';

/** Callbacks that cannot be turned against the app (shared/lifecycle/invitationEvents.ts, receiverAddress.ts). */

const NOTIFY_SECRET = 'notify-secret-for-every-receiver-0123456789';
const RECEIVER_SECRET = 'this-receivers-own-secret-0123456789abcdef';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const signatureCheck = (body: string, header: unknown, secret: string) =>
  verifySignature(new TextEncoder().encode(body), header as string, { secrets: [secret], toleranceSeconds: 300 });

describe('callback hosts are matched exactly', () => {
  it.each([
    ['hooks.contoso-hr.com', 'https://hooks.contoso-hr.com/x', true],
    ['hooks.contoso-hr.com', 'https://hooks.contoso-hr.com:443/x', true],
    ['hooks.contoso-hr.com', 'https://hooks.contoso-hr.com:8443/x', false],
    ['hooks.contoso-hr.com', 'https://evil.hooks.contoso-hr.com/x', false],
    ['hooks.contoso-hr.com:8443', 'https://hooks.contoso-hr.com:8443/x', true],
    ['hooks.contoso-hr.com:8443', 'https://hooks.contoso-hr.com/x', false],
  ])('CALLBACK_ALLOWED_HOSTS=%s and callbackUrl %s: accepted %s', async (allowed, callbackUrl, accepted) => {
    const deps = await createTestDependencies({ CALLBACK_ALLOWED_HOSTS: allowed, NOTIFY_HMAC_SECRET: NOTIFY_SECRET });
    const response = await submit(deps, invitationFor('exact@fabrikam.com', { callbackUrl }));
    expect(response.status).toBe(accepted ? 202 : 400);
    if (!accepted)
      expect(response.json.rejected[0].errors[0]).toMatchObject({ path: 'callbackUrl', message: expect.stringContaining('443') });
  });
});

describe('a callback is checked again when it is delivered', () => {
  it('never POSTs to an internal address, even for an allowed host, unless CALLBACK_ALLOW_PRIVATE=true', async () => {
    const receiver = await startEventReceiver();
    cleanup.push(receiver.stop);
    const { deps, logs } = await startPipeline(
      cleanup,
      {},
      {
        CALLBACK_ALLOWED_HOSTS: receiver.host, // localhost:<port>, which resolves to loopback
        NOTIFY_HMAC_SECRET: NOTIFY_SECRET,
        NOTIFY_MAX_ATTEMPTS: '2',
        NOTIFY_FIRST_RETRY_SECONDS: '0.2',
      },
    );
    const delivery = startEventDelivery(deps, logs);
    cleanup.push(delivery.stop);
    const email = 'internal@fabrikam.com';
    expect((await submit(deps, invitationFor(email, { callbackUrl: receiver.url }))).status).toBe(202);
    await waitForStatus(deps, recordIdForEmail(email), 'Invited');
    await waitFor(async () => ((await deps.events.poisonQueue.getProperties()).approximateMessagesCount ?? 0) === 1, {
      what: 'the refused event in the poison queue',
    });
    expect(receiver.received).toEqual([]);
    expect(logs.text()).toMatch(/resolves to an internal address \((127\.0\.0\.1|::1)\)/);
  });

  it('goes by CALLBACK_ALLOWED_HOSTS as it is at delivery: a host taken off the list is sent nothing', async () => {
    const receiver = await startEventReceiver();
    cleanup.push(receiver.stop);
    const deps = await createTestDependencies({
      CALLBACK_ALLOWED_HOSTS: receiver.host,
      NOTIFY_HMAC_SECRET: NOTIFY_SECRET,
      CALLBACK_ALLOW_PRIVATE: 'true',
    });
    const email = 'delisted@fabrikam.com';
    await submit(deps, invitationFor(email, { callbackUrl: receiver.url }));
    const stored = (await deps.store.getById(recordIdForEmail(email)))!;
    const message = { target: receiver.url, event: eventOf({ ...stored.entity, status: 'Invited' }), attempt: 1 };
    const lines: string[] = [];
    const log = {
      info: (line: string) => lines.push(line),
      warn: (line: string) => lines.push(line),
      error: (line: string) => lines.push(line),
    };

    // The same queues, with the list of an operator who has since removed the host.
    const delisted = new InvitationEvents(deps.events.queue, deps.events.poisonQueue, {
      secrets: [NOTIFY_SECRET],
      callbackAllowedHosts: [],
      allowPrivateAddresses: true,
      maxAttempts: 5,
      firstRetryMs: 1_000,
    });
    expect(await delisted.deliver(message, log)).toBe('poisoned');
    expect(receiver.received).toEqual([]);
    expect(lines.join('\n')).toContain('no longer in CALLBACK_ALLOWED_HOSTS');
    // With the host still listed, the same message is delivered.
    expect(await deps.events.deliver(message, log)).toBe('delivered');
    expect(receiver.received).toHaveLength(1);
  });

  it.each([
    ['127.0.0.1', true],
    ['10.1.2.3', true],
    ['100.64.0.1', true],
    ['169.254.169.254', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['0.0.0.0', true],
    ['::1', true],
    ['fe80::1', true],
    ['fd00::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:a9fe:a9fe', true],
    ['20.190.151.68', false],
    ['172.32.0.1', false],
    ['2603:1030:20e:3::23c', false],
  ])('counts %s as internal: %s', (address, internal) => {
    expect(isInternalAddress(address)).toBe(internal);
  });
});

describe('each receiver its own secret', () => {
  it('signs events to a receiver in CALLBACK_SECRETS with its secret alone, so no other receiver could forge them', async () => {
    const receiver = await startEventReceiver();
    cleanup.push(receiver.stop);
    const { deps, logs } = await startPipeline(
      cleanup,
      {},
      {
        CALLBACK_ALLOWED_HOSTS: receiver.host,
        CALLBACK_ALLOW_PRIVATE: 'true',
        NOTIFY_HMAC_SECRET: NOTIFY_SECRET,
        CALLBACK_SECRETS: `${receiver.host}=${RECEIVER_SECRET}`,
      },
    );
    const delivery = startEventDelivery(deps, logs);
    cleanup.push(delivery.stop);
    await submit(deps, invitationFor('own-secret@fabrikam.com', { callbackUrl: receiver.url }));
    await waitFor(async () => receiver.received.length >= 1, { what: 'the event' });
    const [{ body, headers }] = receiver.received as [(typeof receiver.received)[0]];
    expect(invitationEventSchema.parse(JSON.parse(body)).data.status).toBe('Invited');
    expect(signatureCheck(body, headers['x-signature'], RECEIVER_SECRET)).not.toHaveProperty('problem');
    expect(signatureCheck(body, headers['x-signature'], NOTIFY_SECRET)).toHaveProperty('problem');
  });

  it('signs with both NOTIFY_HMAC_SECRET values while one is rotated', async () => {
    const next = 'the-next-notify-secret-0123456789abcdefgh';
    const receiver = await startEventReceiver();
    cleanup.push(receiver.stop);
    const { deps, logs } = await startPipeline(cleanup, {}, { NOTIFY_URL: receiver.url, NOTIFY_HMAC_SECRET: `${NOTIFY_SECRET},${next}` });
    const delivery = startEventDelivery(deps, logs);
    cleanup.push(delivery.stop);
    await submit(deps, invitationFor('rotation@fabrikam.com'));
    await waitFor(async () => receiver.received.length >= 1, { what: 'the event' });
    const { body, headers } = receiver.received[0]!;
    expect(String(headers['x-signature']).match(/v1=/g)).toHaveLength(2);
    for (const secret of [NOTIFY_SECRET, next]) expect(signatureCheck(body, headers['x-signature'], secret)).not.toHaveProperty('problem');
  });

  it.each([
    [
      'NOTIFY_HMAC_SECRET the same as INTAKE_HMAC_SECRET',
      { INTAKE_HMAC_SECRET: NOTIFY_SECRET, NOTIFY_HMAC_SECRET: NOTIFY_SECRET },
      'INTAKE_HMAC_SECRET',
    ],
    [
      'one secret for two receivers',
      { CALLBACK_SECRETS: `a.contoso.com=${RECEIVER_SECRET},b.contoso.com=${RECEIVER_SECRET}` },
      'CALLBACK_SECRETS',
    ],
    [
      'a receiver holding NOTIFY_HMAC_SECRET',
      { NOTIFY_HMAC_SECRET: NOTIFY_SECRET, CALLBACK_SECRETS: `a.contoso.com=${NOTIFY_SECRET}` },
      'CALLBACK_SECRETS',
    ],
    [
      'a receiver holding the intake’s secret',
      { INTAKE_HMAC_SECRET: RECEIVER_SECRET, CALLBACK_SECRETS: `a.contoso.com=${RECEIVER_SECRET}` },
      'CALLBACK_SECRETS',
    ],
    ['a short receiver secret', { CALLBACK_SECRETS: 'a.contoso.com=short' }, 'CALLBACK_SECRETS'],
  ])('refuses to start with %s, naming it', (_, env, setting) => {
    const load = () => loadSettings({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', ...env });
    expect(load).toThrow(SettingsError);
    expect(load).toThrow(setting);
  });
});
