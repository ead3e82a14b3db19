import fc from 'fast-check';
import type { ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppDependencies } from '../../shared/appDependencies';
import { canonicalizePropertyNames } from '../../shared/intake/canonicalPropertyNames';
import { invitationSchema } from '../../shared/core/invitation';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { createTestDependencies, invitationFor, submit, MESSAGE_POWERS } from '../support/harness';
import { acceptedInvitation } from '../support/storableBodies';
import { dependenciesBehindFaultProxy, type StorageFaultProxy } from '../support/storageFaultProxy';

/**
 * Whatever passes validation can be stored, and one bad row never stops the rest: generated
 * bodies the schema accepts are all stored (no 5xx), and rosters with poison rows or poison
 * names are set aside alone while later rosters are still processed.
 */

describe('1,000 generated bodies that the schema accepts', () => {
  let deps: AppDependencies;
  beforeAll(async () => {
    deps = await createTestDependencies(MESSAGE_POWERS);
  });

  it('are all answered 202 and stored, person by person: none answers 5xx', async () => {
    let run = 0;
    let people = 0;
    const body = fc
      .integer({ min: 1, max: 4 })
      .chain((size) => fc.tuple(...Array.from({ length: size }, (_, i) => acceptedInvitation(`g${i}@fabrikam.com`))));
    await fc.assert(
      fc.asyncProperty(body, async (invitations) => {
        run += 1;
        const named = invitations.map((invitation, i) => ({ ...invitation, invitedUserEmailAddress: `run${run}-${i}@fabrikam.com` }));
        for (const invitation of named)
          expect(invitationSchema.safeParse(canonicalizePropertyNames(invitation, invitationSchema)).success).toBe(true);
        const response = await submit(deps, { invitations: named });
        expect(response.status).toBe(202);
        expect(response.json.rejected).toEqual([]);
        for (const invitation of named) {
          const stored = await deps.store.getById(recordIdForEmail(invitation.invitedUserEmailAddress));
          expect(stored?.invitation.externalId).toBe(invitation.externalId?.trim());
        }
        people += named.length;
        await deps.queue.queue.clearMessages();
      }),
      { numRuns: 1_000 },
    );
    console.info(
      `[fault figures] generated bodies: 1,000 accepted by the schema (${people} people), 1,000 answered 202, 0 answered 5xx, every person stored.`,
    );
  }, 300_000);
});

describe('rosters with poison rows and poison names', () => {
  const HEADINGS =
    'version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Unique id [externalId]';
  const REDIRECT = 'https://myapps.microsoft.com';
  let proxy: StorageFaultProxy;
  let deps: AppDependencies;
  let container: ContainerClient;

  beforeAll(async () => {
    ({ proxy, deps } = await dependenciesBehindFaultProxy('r'));
    container = deps.partnerOnboarding.container();
    await container.createIfNotExists();
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  const upload = (name: string, content: string) => container.getBlockBlobClient(name).upload(content, Buffer.byteLength(content));
  const exists = (name: string) => container.getBlobClient(name).exists();

  it('sets aside only what storage refuses, and still processes every later roster', async () => {
    // Oldest first: a row storage refuses, a roster whose own progress storage refuses, a long CJK name, a plain one.
    await upload(
      'a-poison-row.csv',
      [
        HEADINGS,
        `row1@fabrikam.com,${REDIRECT},HR-1`,
        `row2@fabrikam.com,${REDIRECT},REFUSED-BY-STORAGE`,
        `row3@fabrikam.com,${REDIRECT},HR-3`,
      ].join('\n'),
    );
    await upload('b-REFUSED-BY-STORAGE.json', JSON.stringify({ invitations: [invitationFor('named@fabrikam.com')] }));
    const longName = `${'名'.repeat(300)}.csv`;
    await upload(longName, [HEADINGS, `long@fabrikam.com,${REDIRECT},HR-L`].join('\n'));
    await upload('d-later.csv', [HEADINGS, `later@fabrikam.com,${REDIRECT},HR-D`].join('\n'));

    proxy.configure({ refuseBodiesContaining: 'REFUSED-BY-STORAGE' });
    const lines: string[] = [];
    const run = await deps.partnerOnboarding.run({ info: (line) => lines.push(line), warn: (line) => lines.push(line) });
    proxy.configure({});

    expect(run.failed).toEqual(['b-REFUSED-BY-STORAGE.json']);
    expect(run.recorded.sort()).toEqual(['a-poison-row.csv', 'd-later.csv', longName].sort());
    expect(await exists('failed/b-REFUSED-BY-STORAGE.json')).toBe(true);
    expect((await container.getBlobClient('failed/b-REFUSED-BY-STORAGE.json.error.txt').downloadToBuffer()).toString()).toContain(
      'PropertyValueTooLarge',
    );
    const rejections = (await container.getBlobClient('results/a-poison-row.csv-rejected.csv').downloadToBuffer()).toString();
    expect(rejections).toContain('storage refused its record');
    for (const email of ['row1@fabrikam.com', 'row3@fabrikam.com', 'long@fabrikam.com', 'later@fabrikam.com']) {
      expect((await deps.store.getById(recordIdForEmail(email)))?.record.status).toBe('Queued');
    }
    expect(await deps.store.getById(recordIdForEmail('row2@fabrikam.com'))).toBeUndefined();
    console.info(
      '[fault figures] poison rosters: a refused row rejected alone, a refused roster moved to failed/, the 3 other rosters processed in the same run.',
    );
  });

  it("does not let one roster's hostile metadata key stop the others", async () => {
    // The storage SDK refuses to read metadata keys such as `constructor` (prototype pollution):
    // in a container listing, that would fail every run, for every roster.
    const hostile = 'e-hostile-metadata.csv';
    const content = [HEADINGS, `hostile@fabrikam.com,${REDIRECT},HR-E`].join('\n');
    await container.getBlockBlobClient(hostile).upload(content, Buffer.byteLength(content), { metadata: { constructor: 'x' } });
    await upload('f-after.csv', [HEADINGS, `after@fabrikam.com,${REDIRECT},HR-F`].join('\n'));

    const run = await deps.partnerOnboarding.run({ info: () => undefined, warn: () => undefined });

    expect(run.recorded).toContain('f-after.csv');
    expect([...run.recorded, ...run.failed]).toContain(hostile);
    expect(await exists(hostile)).toBe(false);
  });
});
