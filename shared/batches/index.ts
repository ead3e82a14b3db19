/** A batch: its registration and listing, its ledger of people and counts, its rejected rows, its report and results CSV. */

export { BatchBook, type SubmissionEntry } from './batchBook';
export { BatchIndex } from './batchIndex';
export { BatchLedger, type PlacedPerson } from './batchLedger';
export { BatchReports, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, emptyResultsCsv } from './batchReports';
export { CLIENT_HEADER, sourceFromClientHeader, type BatchSource } from './batchSource';
export { RejectedRows } from './rejectedRows';
export { stringifyForSpreadsheets } from './spreadsheetCsv';
