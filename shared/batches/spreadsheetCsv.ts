import { stringify, type Input, type Options } from 'csv-stringify/sync';

/**
 * Every CSV this project writes (batch results, roster results and rejections) is opened in a
 * spreadsheet by a partner manager, and its cells hold what callers sent. A cell beginning with
 * `=`, `+`, `-`, `@`, tab or carriage return is a formula there (OWASP, "CSV Injection"), so such
 * cells are written with a leading `'`, which spreadsheets show as text.
 */
export function stringifyForSpreadsheets(rows: Input, options: Omit<Options, 'escape_formulas'> = {}): string {
  return stringify(rows, { ...options, escape_formulas: true });
}
