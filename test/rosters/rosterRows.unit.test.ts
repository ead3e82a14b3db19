import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { validateItems } from '../../shared/intake';
import { readRosterRows } from '../../shared/rosters/rosterRows';

/** A roster's rows as the intake reads them (rosters/rosterRows.ts): the CSV's own columns, a joiner's profile among them. */
describe('roster rows', () => {
  it('takes a joiner’s profile from the CSV’s profile columns, and keeps each row as the file has it', async () => {
    const csv = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Job title [jobTitle],Employee id [employeeId]',
      'joiner@fabrikam.com,https://myapps.microsoft.com,Buyer,P-7',
    ].join('\n');
    const rows = [];
    for await (const row of readRosterRows(Readable.from([csv]), 'csv')) rows.push(row);
    expect(rows).toEqual([
      { row: 0, line: 3, value: expect.anything(), raw: 'joiner@fabrikam.com,https://myapps.microsoft.com,Buyer,P-7' },
    ]);
    const { accepted } = validateItems(rows.map((row) => ({ index: row.row, pathPrefix: '', value: row.value })));
    expect(accepted[0]!.invitation.profile).toEqual({ jobTitle: 'Buyer', employeeId: 'P-7' });
  });
});
