import { describe, expect, it } from 'vitest';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { createTestDependencies, invitationFor, MESSAGE_POWERS, submit } from '../support/harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS, loaded into Azurite's process
const patch = require('../../local/azuriteTableBatch.cjs') as { applied: boolean };

/**
 * JSON allows U+2028 and U+2029 raw inside a string, and Azure Table storage stores them; Azurite cut
 * a transaction's JSON short at them and failed the whole transaction (500), so the intake answered
 * 503 to a name that Azure would have stored. local/azuriteTableBatch.cjs fixes our Azurite.
 */
describe('line and paragraph separators in stored text', () => {
  it('are patched in the Azurite that node_modules holds (a later Azurite that moved it fails here)', () => {
    expect(patch.applied).toBe(true);
  });

  it('are stored and read back as submitted, through the intake’s transactions', async () => {
    const deps = await createTestDependencies(MESSAGE_POWERS);
    const email = 'separators@fabrikam.com';
    const invitedUserMessageInfo = {
      customizedMessageBody: 'Welcome.\u2029See you soon.',
      ccRecipients: [{ emailAddress: { address: 'cc@fabrikam.com', name: 'Team\u2028Lead' } }],
    };
    const invitation = invitationFor(email, {
      invitedUserDisplayName: 'Ada\u2028Lovelace',
      externalId: 'HR\u20291',
      invitedUserMessageInfo,
    });
    const response = await submit(deps, { invitations: [invitation, invitationFor('plain@fabrikam.com')] });
    expect(response.status).toBe(202);
    const stored = await deps.store.getById(recordIdForEmail(email));
    expect(stored?.invitation).toMatchObject({
      invitedUserDisplayName: 'Ada\u2028Lovelace',
      externalId: 'HR\u20291',
      invitedUserMessageInfo,
    });
  });
});
