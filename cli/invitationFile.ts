import { readFileSync } from 'node:fs';
import { parseBulkInviteCsv } from '../shared/intake';

/** A file the CLI submits: the portal's bulk-invite CSV, or JSON (`{"invitations": [...]}` or an array). */
export interface FileInvitation {
  /** 1-based row among the file's invitations. */
  row: number;
  /** For CSV: the line where the row starts. */
  line?: number;
  invitation: unknown;
  /** For CSV: the row as the file has it. */
  raw?: string;
}

export function readInvitationFile(file: string): FileInvitation[] {
  const text = readFileSync(file, 'utf8');
  if (/\.csv$/i.test(file))
    return parseBulkInviteCsv(text).map((row, index) => ({ row: index + 1, line: row.line, invitation: row.invitation, raw: row.raw }));
  const parsed: unknown = JSON.parse(text);
  const invitations = Array.isArray(parsed) ? parsed : (parsed as { invitations?: unknown }).invitations;
  if (!Array.isArray(invitations)) throw new Error(`${file} must hold {"invitations": [...]} or an array of invitations.`);
  return invitations.map((invitation, index) => ({ row: index + 1, invitation }));
}
