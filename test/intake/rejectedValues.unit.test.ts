import { describe, expect, it } from 'vitest';
import { parseBulkInviteCsv, validateItems } from '../../shared/intake';

/** A rejected row keeps what it held (core/submissionItems.ts), so that a results file alone says what to fix. */
describe('what a rejected row held', () => {
  const redirect = 'https://myapps.microsoft.com';

  it('keeps the address and the name as submitted, in the property names a caller may use', () => {
    const { rejected } = validateItems([
      {
        index: 0,
        pathPrefix: '',
        value: { InvitedUserEmailAddress: 'not an address', invitedUserDisplayName: 'Nobody', inviteRedirectUrl: redirect },
      },
      { index: 1, pathPrefix: '', value: 'not even an object' },
    ]);
    expect(rejected.map((item) => item.submitted)).toEqual([{ email: 'not an address', displayName: 'Nobody' }, undefined]);
  });

  it('keeps a CSV row as the file had it, quoted as CSV quotes it', () => {
    const csv = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Name [inviteeName]',
      `bad#row@fabrikam.com,${redirect},"Row, Bad ""the"" one"`,
    ].join('\n');
    const rows = parseBulkInviteCsv(csv).map((row, index) => ({
      index,
      line: row.line,
      pathPrefix: '',
      value: row.invitation,
      raw: row.raw,
    }));
    const [rejected] = validateItems(rows).rejected;
    expect(rejected!.submitted).toEqual({
      email: 'bad#row@fabrikam.com',
      displayName: 'Row, Bad "the" one',
      raw: `bad#row@fabrikam.com,${redirect},"Row, Bad ""the"" one"`,
    });
  });

  it('keeps at most 500 characters of each value', () => {
    const { rejected } = validateItems([
      { index: 0, pathPrefix: '', value: { invitedUserEmailAddress: `${'x'.repeat(2_000)}@`, inviteRedirectUrl: redirect } },
    ]);
    expect(rejected[0]!.submitted!.email).toHaveLength(500);
  });
});
