import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { FORBIDDEN_EMAIL_CHARACTERS } from '../../shared/core/emailAddress';
import { MAX_BODY_BYTES } from '../../shared/intake/submission';
import { signBody } from '../../shared/core/webhookSignature';
import { createTestDependencies, queueLength, submit, tableRowCount } from '../support/harness';

/**
 * Fault tolerance at the door: generated bad bodies (wrong types, huge strings, deep nesting,
 * invalid UTF-8, every forbidden email character) always get a 4xx, never a 5xx, and nothing is
 * written or queued for them.
 */

const REDIRECT = 'https://myapps.microsoft.com';

const wrongType = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const badEmail = fc.oneof(
  fc
    .constantFrom(...FORBIDDEN_EMAIL_CHARACTERS)
    .chain((character) =>
      fc.tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z]{0,8}$/)).map(([a, b]) => `${a}${character}${b}@fabrikam.com`),
    ),
  fc.stringMatching(/^[a-z]{1,8}$/).map((name) => `.${name}@fabrikam.com`),
  fc.stringMatching(/^[a-z]{1,8}$/).map((name) => `${name}-@fabrikam.com`),
  fc.string({ maxLength: 20 }).filter((text) => !text.includes('@')),
  wrongType,
);
const badInvitation = fc.oneof(
  fc.record({ invitedUserEmailAddress: badEmail, inviteRedirectUrl: fc.constant(REDIRECT) }),
  fc.record({
    invitedUserEmailAddress: fc.constant('ok@fabrikam.com'),
    inviteRedirectUrl: fc.oneof(fc.string({ maxLength: 30 }), wrongType),
  }),
  fc.record({
    invitedUserEmailAddress: fc.constant('ok@fabrikam.com'),
    inviteRedirectUrl: fc.constant(REDIRECT),
    invitedUserDisplayName: fc.string({ minLength: 300, maxLength: 5_000 }),
  }),
  fc.record({ invitedUserEmailAddress: fc.constant('ok@fabrikam.com'), inviteRedirectUrl: fc.constant(REDIRECT), status: fc.string() }),
  fc.record({
    invitedUserEmailAddress: fc.constant('ok@fabrikam.com'),
    inviteRedirectUrl: fc.constant(REDIRECT),
    sendInvitationMessage: fc.oneof(fc.string(), fc.integer()),
  }),
  fc.record({
    invitedUserEmailAddress: fc.constant('ok@fabrikam.com'),
    inviteRedirectUrl: fc.constant(REDIRECT),
    surprise: fc.anything().filter((value) => value !== undefined),
  }),
  wrongType,
);
const deepNesting = fc.integer({ min: 50, max: 5_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);
const deepObject = fc.integer({ min: 50, max: 2_000 }).map((depth) => `{"invitations":[${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}]}`);
const invalidUtf8 = fc
  .uint8Array({ minLength: 1, maxLength: 64 })
  .map((bytes) =>
    Buffer.concat([Buffer.from('{"invitedUserEmailAddress":"'), Buffer.from([0xc3, 0x28]), Buffer.from(bytes), Buffer.from('"}')]),
  );
const truncatedJson = fc
  .json()
  .filter((json) => json.length > 2)
  .map((json) => json.slice(0, json.length - 1));

const badBody: fc.Arbitrary<{ body: string | Uint8Array; contentType: string }> = fc.oneof(
  badInvitation.map((invitation) => ({ body: JSON.stringify(invitation), contentType: 'application/json' })),
  fc
    .array(badInvitation, { minLength: 1, maxLength: 20 })
    .map((invitations) => ({ body: JSON.stringify({ invitations }), contentType: 'application/json' })),
  deepNesting.map((body) => ({ body, contentType: 'application/json' })),
  deepObject.map((body) => ({ body, contentType: 'application/json' })),
  invalidUtf8.map((body) => ({ body, contentType: 'application/json' })),
  truncatedJson.map((body) => ({ body, contentType: 'application/json' })),
  fc.string({ maxLength: 200 }).map((body) => ({ body, contentType: 'text/csv' })),
  fc
    .string({ maxLength: 50 })
    .map((body) => ({ body, contentType: fc.sample(fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data', ''), 1)[0]! })),
  fc.constant({ body: 'x'.repeat(MAX_BODY_BYTES + 1), contentType: 'application/json' }),
  fc.integer({ min: 1_001, max: 1_200 }).map((count) => ({
    body: JSON.stringify({
      invitations: Array.from({ length: count }, (_, i) => ({
        invitedUserEmailAddress: `n${i}@fabrikam.com`,
        inviteRedirectUrl: REDIRECT,
      })),
    }),
    contentType: 'application/json',
  })),
);

describe('the intake under generated bad input', () => {
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies();
  });

  it('answers 1,000+ bad bodies with a 4xx, never a 5xx, and queues or writes nothing', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(badBody, async ({ body, contentType }) => {
        const response = await submit(deps, body, { contentType });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        if (response.headers.get('content-type')?.startsWith('application/problem+json')) {
          expect(response.json).toMatchObject({
            type: expect.any(String),
            title: expect.any(String),
            status: response.status,
            detail: expect.any(String),
          });
        } else {
          expect(response.json.rejected.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1_100 },
    );
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(1_100);
    expect(await queueLength(deps)).toBe(0);
    expect(await tableRowCount(deps)).toBe(0);
  }, 240_000);
});

describe('signed webhooks under generated tampering', () => {
  const secret = 'fault-suite-secret-of-at-least-32-bytes';
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies({ INTAKE_HMAC_SECRET: secret });
  });

  it('refuses unsigned and wrongly signed bodies with 401, queuing nothing', async () => {
    const valid = JSON.stringify({ invitedUserEmailAddress: 'signed@fabrikam.com', inviteRedirectUrl: REDIRECT });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constant(undefined),
          fc.string({ maxLength: 80 }),
          fc.string({ minLength: 1, maxLength: 30 }).map((other) => signBody(`${secret}${other}`, valid)),
          fc.string({ minLength: 1, maxLength: 10 }).map((extra) => signBody(secret, `${valid}${extra}`)),
          // Signed right, but too old (a captured request replayed later) or from the future.
          fc.integer({ min: 301, max: 10_000_000 }).map((age) => signBody(secret, valid, Math.floor(Date.now() / 1000) - age)),
          fc.integer({ min: 301, max: 10_000_000 }).map((ahead) => signBody(secret, valid, Math.floor(Date.now() / 1000) + ahead)),
        ),
        async (signature) => {
          const response = await submit(deps, valid, { headers: signature === undefined ? {} : { 'x-signature': signature } });
          expect(response.status).toBe(401);
        },
      ),
      { numRuns: 200 },
    );
    expect(await queueLength(deps)).toBe(0);
    expect(await tableRowCount(deps)).toBe(0);
  }, 120_000);
});
