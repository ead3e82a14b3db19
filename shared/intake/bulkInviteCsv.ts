import { CsvError, parse } from 'csv-parse/sync';

/**
 * The CSV that the Entra admin center's "Bulk invite users" page takes:
 *
 *   version:v1.0
 *   Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody]
 *   partner@fabrikam.com,https://myapps.microsoft.com,true,Welcome aboard
 *
 * Columns are matched by the bracketed name, case-insensitively, and unknown columns are ignored,
 * as the portal does. We also accept our own bracketed columns for the other invitation fields.
 * Quoted fields may hold commas and newlines (RFC 4180).
 */

type RawInvitation = Record<string, unknown>;
type ColumnWriter = (invitation: RawInvitation, cell: string) => void;

const setPath =
  (path: readonly string[]): ColumnWriter =>
  (invitation, cell) => {
    let target = invitation;
    for (const key of path.slice(0, -1)) target = (target[key] ??= {}) as RawInvitation;
    target[path[path.length - 1]!] = cell;
  };
const setBoolean =
  (property: string): ColumnWriter =>
  (invitation, cell) => {
    const lowered = cell.toLowerCase();
    invitation[property] = lowered === 'true' ? true : lowered === 'false' ? false : cell; // anything else fails validation by name
  };

/** A `;`-separated cell as a list (an empty cell sets nothing); the schema checks each entry and the count. */
const setList =
  (property: string, entry: (text: string) => unknown): ColumnWriter =>
  (invitation, cell) => {
    const entries = cell
      .split(';')
      .map((part) => part.trim())
      .filter((part) => part.length > 0);
    if (entries.length > 0) invitation[property] = entries.map(entry);
  };

/** Bracketed column name (lower-cased) → where its cell goes in an invitation. */
export const BULK_INVITE_COLUMNS: Record<string, { description: string; write: ColumnWriter }> = {
  inviteeemail: { description: 'Email address to invite (required)', write: setPath(['invitedUserEmailAddress']) },
  inviteredirecturl: { description: 'Redirection url (required)', write: setPath(['inviteRedirectUrl']) },
  sendemail: { description: 'Send invitation message (true or false)', write: setBoolean('sendInvitationMessage') },
  customizedmessagebody: {
    description: 'Customized invitation message',
    write: setPath(['invitedUserMessageInfo', 'customizedMessageBody']),
  },
  // Our own columns, beyond the portal's template:
  inviteename: { description: 'Display name of the person', write: setPath(['invitedUserDisplayName']) },
  invitedusertype: { description: 'Guest or Member', write: setPath(['invitedUserType']) },
  messagelanguage: {
    description: 'Language of the default message, such as fr-FR',
    write: setPath(['invitedUserMessageInfo', 'messageLanguage']),
  },
  ccrecipient: {
    description: 'One additional recipient of the invitation email',
    write: (invitation, cell) => {
      const info = (invitation.invitedUserMessageInfo ??= {}) as RawInvitation;
      info.ccRecipients = [{ emailAddress: { address: cell } }];
    },
  },
  externalid: { description: 'Your own key for the person (searchable)', write: setPath(['externalId']) },
  groups: { description: 'Group ids the guest joins once invited, separated by ;', write: setList('groups', (id) => id) },
  sponsors: { description: 'Sponsor user ids (at most 5), separated by ;', write: setList('invitedUserSponsors', (id) => ({ id })) },
  resend: { description: 'true: invite again even if already invited', write: setBoolean('resend') },
  // The person's profile, set on the guest once invited (INVITE_ALLOW_PROFILE).
  givenname: { description: 'Given name', write: setPath(['profile', 'givenName']) },
  surname: { description: 'Surname', write: setPath(['profile', 'surname']) },
  companyname: { description: 'Company', write: setPath(['profile', 'companyName']) },
  department: { description: 'Department', write: setPath(['profile', 'department']) },
  jobtitle: { description: 'Job title', write: setPath(['profile', 'jobTitle']) },
  employeeid: { description: 'Employee id (at most 16 characters)', write: setPath(['profile', 'employeeId']) },
  usagelocation: { description: 'Usage location: a two-letter country code', write: setPath(['profile', 'usageLocation']) },
};

export interface CsvInvitationRow {
  /** 1-based line of the file where the row starts (quoted newlines make rows span lines). */
  line: number;
  invitation: RawInvitation;
  /** The row as the file had it: its cells, comma-separated, quoted where CSV needs quotes. */
  raw: string;
}

/** Cells as one CSV line (RFC 4180 quoting): how a rejected row is shown as it was written. */
function csvLine(cells: readonly string[]): string {
  return cells.map((cell) => (/[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell)).join(',');
}

export class BulkInviteCsvError extends Error {
  override readonly name = 'BulkInviteCsvError';
}

const VERSION_LINE = 'version:v1.0';
const BRACKETED_NAME = /\[([^\]]+)\]/;

/** One record as csv-parse gives it with `info`: the cells and the line where the record ends. */
export interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/** csv-parse's options for the bulk-invite format, shared by the whole-body and the streaming readers. */
export const BULK_INVITE_CSV_OPTIONS = { bom: true, relax_column_count: true, info: true, skip_empty_lines: true } as const;

/**
 * Reads the format record by record: the version line, the headings, then one invitation per row.
 * `read` returns the row's invitation, or undefined for the two header records and blank rows.
 */
export function createBulkInviteRowReader(): { read(record: CsvRecord): CsvInvitationRow | undefined; finish(): void } {
  let recordsSeen = 0;
  let writers: (ColumnWriter | undefined)[] = [];
  let previousEndLine = 0;
  return {
    read({ record, info }) {
      recordsSeen += 1;
      const line = previousEndLine + 1;
      previousEndLine = info.lines;
      if (recordsSeen === 1) {
        if (record[0]?.trim().toLowerCase() !== VERSION_LINE) {
          throw new BulkInviteCsvError(
            `The CSV's first line must be "${VERSION_LINE}", as in the Entra admin center's bulk invite template.`,
          );
        }
        return undefined;
      }
      if (recordsSeen === 2) {
        const names = record.map((heading) => BRACKETED_NAME.exec(heading)?.[1]?.trim().toLowerCase());
        if (!names.includes('inviteeemail')) {
          throw new BulkInviteCsvError('The CSV\'s headings must include the column "Email address to invite [inviteeEmail] Required".');
        }
        writers = names.map((name) => (name ? BULK_INVITE_COLUMNS[name]?.write : undefined));
        return undefined;
      }
      if (record.every((cell) => cell.trim() === '')) return undefined; // spreadsheets save blank rows as ",,,"
      const invitation: RawInvitation = {};
      record.forEach((cell, column) => {
        const trimmed = cell.trim();
        if (trimmed !== '') writers[column]?.(invitation, trimmed);
      });
      return { line, invitation, raw: csvLine(record) };
    },
    finish() {
      if (recordsSeen === 0)
        throw new BulkInviteCsvError(
          `The CSV's first line must be "${VERSION_LINE}", as in the Entra admin center's bulk invite template.`,
        );
      if (recordsSeen === 1) throw new BulkInviteCsvError('The CSV has no column headings on its second line.');
    },
  };
}

export function parseBulkInviteCsv(text: string): CsvInvitationRow[] {
  let records: CsvRecord[];
  try {
    // With `info`, each record comes with where it was read (typed loosely by csv-parse).
    records = parse(text, BULK_INVITE_CSV_OPTIONS) as unknown as CsvRecord[];
  } catch (error) {
    if (error instanceof CsvError) throw new BulkInviteCsvError(`The CSV is malformed: ${error.message}`);
    throw error;
  }
  const reader = createBulkInviteRowReader();
  const rows = records.flatMap((record) => reader.read(record) ?? []);
  reader.finish();
  return rows;
}
