import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { signBody } from '../../shared/core/webhookSignature';
import { clearQueue, createTestDependencies, invitationFor, queueLength, submit, tableRowCount } from '../support/harness';

describe('domain policy', () => {
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies({
      INVITE_ALLOWED_DOMAINS: 'fabrikam.com, contoso.co.uk',
      INVITE_BLOCKED_DOMAINS: 'blocked.fabrikam.com',
    });
  });
  beforeEach(async () => {
    await clearQueue(deps);
  });

  it('accepts allowed domains and their subdomains, rejects the rest with the reason', async () => {
    const response = await submit(deps, {
      invitations: [
        invitationFor('a@fabrikam.com'),
        invitationFor('b@eu.contoso.co.uk'),
        invitationFor('c@gmail.com'),
        invitationFor('d@mail.blocked.fabrikam.com'),
        invitationFor('e@notfabrikam.com'),
      ],
    });
    expect(response.status).toBe(202);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual(['a@fabrikam.com', 'b@eu.contoso.co.uk']);
    expect(response.json.rejected).toEqual([
      {
        index: 2,
        errors: [{ path: 'invitations[2].invitedUserEmailAddress', message: expect.stringContaining('INVITE_ALLOWED_DOMAINS') }],
      },
      {
        index: 3,
        errors: [
          { path: 'invitations[3].invitedUserEmailAddress', message: expect.stringContaining('blocked domain blocked.fabrikam.com') },
        ],
      },
      {
        index: 4,
        errors: [{ path: 'invitations[4].invitedUserEmailAddress', message: expect.stringContaining('INVITE_ALLOWED_DOMAINS') }],
      },
    ]);
    expect(await queueLength(deps)).toBe(2);
  });
});

describe('the domain policy covers every recipient', () => {
  it('rejects an invitation whose ccRecipient is outside the allowed domains, naming the cc path', async () => {
    const deps = await createTestDependencies({ INVITE_ALLOWED_DOMAINS: 'fabrikam.com', INVITE_ALLOW_CC: 'true' });
    const cc = (address: string) => ({ invitedUserMessageInfo: { ccRecipients: [{ emailAddress: { address } }] } });
    const response = await submit(deps, {
      invitations: [
        invitationFor('ok@fabrikam.com', cc('manager@fabrikam.com')),
        invitationFor('ok2@fabrikam.com', cc('attacker@evil.example')),
      ],
    });
    expect(response.status).toBe(202);
    expect(response.json.items.map((item: { email: string }) => item.email)).toEqual(['ok@fabrikam.com']);
    expect(response.json.rejected).toEqual([
      {
        index: 1,
        errors: [
          {
            path: 'invitations[1].invitedUserMessageInfo.ccRecipients[0].emailAddress.address',
            message: expect.stringContaining('INVITE_ALLOWED_DOMAINS'),
          },
        ],
      },
    ]);
    expect(await queueLength(deps)).toBe(1);
  });
});

describe('webhook signature (INTAKE_HMAC_SECRET): t=<unix seconds>,v1=<HMAC of "<t>.<body>">', () => {
  const secret = 'hr-system-shared-secret-0123456789abcdef';
  const next = 'the-next-secret-during-rotation-0123456789';
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies({ INTAKE_HMAC_SECRET: `${secret},${next}` });
  });
  beforeEach(async () => {
    await clearQueue(deps);
  });

  const bodyFor = (email: string) => JSON.stringify(invitationFor(email));
  const now = () => Math.floor(Date.now() / 1000);

  it('accepts a body signed with either configured secret (a rotation)', async () => {
    expect(
      (await submit(deps, bodyFor('signed@fabrikam.com'), { headers: { 'x-signature': signBody(secret, bodyFor('signed@fabrikam.com')) } }))
        .status,
    ).toBe(202);
    expect(
      (await submit(deps, bodyFor('rotated@fabrikam.com'), { headers: { 'x-signature': signBody(next, bodyFor('rotated@fabrikam.com')) } }))
        .status,
    ).toBe(202);
  });

  it.each([
    ['missing', () => undefined],
    ['signed with another secret', () => signBody('another-secret-of-at-least-32-bytes!!', bodyFor('x@fabrikam.com'))],
    ['signed over another body', () => signBody(secret, `${bodyFor('x@fabrikam.com')} `)],
    ['in the old sha256= form', () => 'sha256=00'],
    ['301 s old (a captured request replayed later)', () => signBody(secret, bodyFor('x@fabrikam.com'), now() - 301)],
    ['timestamped in the future', () => signBody(secret, bodyFor('x@fabrikam.com'), now() + 301)],
    [
      'signed with the right HMAC but a changed timestamp',
      () => signBody(secret, bodyFor('x@fabrikam.com')).replace(/^t=\d+/, `t=${now() - 5}`),
    ],
  ])('answers 401 problem when the signature is %s, writing nothing', async (_, signature) => {
    const rowsBefore = await tableRowCount(deps);
    const header = signature();
    const response = await submit(deps, bodyFor('x@fabrikam.com'), { headers: header ? { 'x-signature': header } : {} });
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.json.detail).toMatch(/x-signature/);
    expect(await queueLength(deps)).toBe(0);
    expect(await tableRowCount(deps)).toBe(rowsBefore);
  });

  it('answers a replayed signed request with the first answer, doing nothing more', async () => {
    const body = JSON.stringify(invitationFor('replayed@fabrikam.com', { resend: true }));
    const signature = signBody(secret, body);
    const first = await submit(deps, body, { headers: { 'x-signature': signature } });
    expect(first.status).toBe(202);
    const rowsAfterFirst = await tableRowCount(deps);
    const replay = await submit(deps, body, { headers: { 'x-signature': signature } });
    expect(replay.status).toBe(202);
    expect(replay.json).toEqual(first.json);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await queueLength(deps)).toBe(1);
    expect(await tableRowCount(deps)).toBe(rowsAfterFirst);
  });
});

describe('Idempotency-Key', () => {
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies();
  });

  it('gives the first answer again for the same key, without acting again', async () => {
    const body = {
      batchId: 'idem-1',
      invitations: [invitationFor('idem1@fabrikam.com'), invitationFor('idem2@fabrikam.com', { resend: true })],
    };
    const first = await submit(deps, body, { headers: { 'idempotency-key': 'hr-run-42' } });
    expect(first.status).toBe(202);
    await clearQueue(deps);
    const again = await submit(deps, body, { headers: { 'idempotency-key': 'hr-run-42' } });
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await queueLength(deps)).toBe(0);
  });

  it('answers 422 when the same key comes with another body', async () => {
    expect((await submit(deps, invitationFor('k1@fabrikam.com'), { headers: { 'idempotency-key': 'reused-key' } })).status).toBe(202);
    const other = await submit(deps, invitationFor('k2@fabrikam.com'), { headers: { 'idempotency-key': 'reused-key' } });
    expect(other.status).toBe(422);
    expect(other.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await deps.store.findByEmail('k2@fabrikam.com')).toEqual([]);
  });

  it('keeps a large answer (1,000 people) whole', async () => {
    const body = { batchId: 'idem-large', invitations: Array.from({ length: 1_000 }, (_, i) => invitationFor(`large${i}@fabrikam.com`)) };
    const first = await submit(deps, body, { headers: { 'idempotency-key': 'large-run' } });
    await clearQueue(deps);
    const again = await submit(deps, body, { headers: { 'idempotency-key': 'large-run' } });
    expect(again.json).toEqual(first.json);
    expect(again.json.items).toHaveLength(1_000);
  });
});
