import fc from 'fast-check';

/**
 * Generated invitations that push every string to what storage and Graph accept and past it:
 * any Unicode (astral characters, CJK, controls), lone surrogates now and then, and lengths up to
 * and over each field's limit. Many are accepted by the schema, many are not: either way the
 * intake must answer 202 or 400 for each item, never 5xx, and store what it accepted.
 */

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const anyText = (maxLength: number) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.string({ maxLength: Math.min(maxLength, 40) }) },
    { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('中', '文', '𝔘', 'é', '\n', '\t', '\u0001', '%', '|'), maxLength }) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.string({ maxLength: 10 }), loneSurrogate, fc.string({ maxLength: 10 })).map((parts) => parts.join('')),
    },
  );

const sponsor = fc.uuid().map((id) => ({ id }));

export const storableInvitation = (email: string) =>
  fc.record(
    {
      invitedUserEmailAddress: fc.constant(email),
      inviteRedirectUrl: fc.oneof(
        fc.constant('https://myapps.microsoft.com'),
        anyText(40).map((path) => `https://contoso.com/${encodeURIComponent(path.replace(/[\uD800-\uDFFF]/g, ''))}`),
      ),
      invitedUserDisplayName: anyText(300),
      externalId: fc.oneof(anyText(300), fc.string({ unit: fc.constant('中'), minLength: 40, maxLength: 300 })),
      invitedUserMessageInfo: fc.record(
        {
          customizedMessageBody: fc.oneof(
            anyText(12_000),
            fc.string({ unit: fc.constantFrom('\n', '\u0001', 'a'), minLength: 5_000, maxLength: 11_000 }),
          ),
          ccRecipients: fc.array(fc.record({ emailAddress: fc.record({ address: fc.constant('cc@fabrikam.com'), name: anyText(300) }) }), {
            maxLength: 2,
          }),
        },
        { requiredKeys: [] },
      ),
      invitedUserSponsors: fc.array(sponsor, { minLength: 1, maxLength: 7 }),
    },
    { requiredKeys: ['invitedUserEmailAddress', 'inviteRedirectUrl'] },
  );

const acceptableText = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength: Math.min(maxLength, 60) }),
    fc.string({ unit: 'binary', maxLength: Math.min(maxLength, 200) }).map((text) => text.replace(/\p{Cc}/gu, '')),
    // U+2028 and U+2029 are valid raw in JSON, and broke Azurite's transactions (local/azuriteTableBatch.cjs).
    fc.string({
      unit: fc.constantFrom('中', '文', '𝔘', 'é', 'ß', '%', '|', '#', '?', '/', '\u2028', '\u2029'),
      maxLength: Math.min(maxLength, 50),
    }),
  );

/** Invitations the schema accepts, pushed towards what storage finds hard (astral, CJK, key-unsafe characters, long messages). */
export const acceptedInvitation = (email: string) =>
  fc.record(
    {
      invitedUserEmailAddress: fc.constant(email),
      inviteRedirectUrl: fc.constant('https://myapps.microsoft.com'),
      invitedUserDisplayName: acceptableText(256).filter((name) => name.trim().length > 0),
      externalId: acceptableText(50).filter((id) => id.trim().length > 0),
      invitedUserMessageInfo: fc.record(
        {
          customizedMessageBody: fc.oneof(
            acceptableText(10_000),
            fc.string({ unit: fc.constantFrom('\n', '\t', 'a', '中'), maxLength: 10_000 }),
          ),
          ccRecipients: fc.array(
            fc.record({ emailAddress: fc.record({ address: fc.constant('cc@fabrikam.com'), name: acceptableText(256) }) }),
            { maxLength: 1 },
          ),
        },
        { requiredKeys: [] },
      ),
      invitedUserSponsors: fc.array(sponsor, { minLength: 1, maxLength: 5 }),
    },
    { requiredKeys: ['invitedUserEmailAddress', 'inviteRedirectUrl'] },
  );
