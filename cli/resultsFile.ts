import { parse } from 'csv-parse/sync';
import { stringifyForSpreadsheets } from '../shared/batches';
import type { FileInvitation } from './invitationFile';

/**
 * The batch's results CSV as the CLI writes it beside the file: each rejected row numbered as the
 * file numbers it, with the row as the file has it. The API lists the rejected rows of the CLI's
 * requests in the order they were sent, which is the order the CLI saw them rejected; when the
 * two lists differ (another caller's submissions in the same batch), the file is left as the API wrote it.
 */
export function withFileRows(resultsCsv: string, rejectedInFile: readonly FileInvitation[]): string {
  const rows = parse(resultsCsv, { columns: true }) as Record<string, string>[];
  const rejected = rows.filter((row) => row.status === 'Rejected');
  if (rows.length === 0 || rejected.length !== rejectedInFile.length) return resultsCsv;
  rejected.forEach((row, position) => {
    const file = rejectedInFile[position]!;
    row.row = String(file.row);
    if (file.raw) row.submitted = file.raw;
  });
  return stringifyForSpreadsheets(rows, { header: true, columns: Object.keys(rows[0]!) });
}
