import type { Readable } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { chain } from 'stream-chain';
import { parser } from 'stream-json';
import { pick } from 'stream-json/filters/Pick';
import { streamArray } from 'stream-json/streamers/StreamArray';
import { BULK_INVITE_CSV_OPTIONS, BulkInviteCsvError, createBulkInviteRowReader, type CsvRecord } from '../intake';

/**
 * A roster's rows, read as a stream so that a 50,000-row file never sits in memory whole: the
 * portal's bulk-invite CSV (exactly as the intake takes it) or JSON `{"invitations": [...]}`.
 */

export type RosterFormat = 'csv' | 'json';

export interface RosterRow {
  /** 0-based position among the roster's invitations. */
  row: number;
  /** For CSV: the file line where the row starts. */
  line?: number;
  /** The invitation as written (validated later, like any submission). */
  value: unknown;
  /** For CSV: the row as the file had it. */
  raw?: string;
}

export class RosterFormatError extends Error {
  override readonly name = 'RosterFormatError';
}

export function rosterFormat(blobName: string): RosterFormat | undefined {
  const extension = blobName.toLowerCase().split('.').pop();
  return extension === 'csv' ? 'csv' : extension === 'json' ? 'json' : undefined;
}

export function readRosterRows(stream: Readable, format: RosterFormat): AsyncGenerator<RosterRow> {
  return format === 'csv' ? readCsvRows(stream) : readJsonRows(stream);
}

async function* readCsvRows(stream: Readable): AsyncGenerator<RosterRow> {
  const reader = createBulkInviteRowReader();
  const records = stream.pipe(parse(BULK_INVITE_CSV_OPTIONS));
  stream.once('error', (error) => records.destroy(error));
  let row = 0;
  try {
    for await (const record of records as AsyncIterable<CsvRecord>) {
      const parsed = reader.read(record);
      if (parsed) yield { row: row++, line: parsed.line, value: parsed.invitation, raw: parsed.raw };
    }
    reader.finish();
  } catch (error) {
    if (error instanceof CsvError) throw new RosterFormatError(`The CSV is malformed: ${error.message}`);
    if (error instanceof BulkInviteCsvError) throw new RosterFormatError(error.message);
    throw error;
  }
}

async function* readJsonRows(stream: Readable): AsyncGenerator<RosterRow> {
  const items = chain([
    stream,
    parser(),
    pick({ filter: (stack) => stack.length === 1 && String(stack[0]).toLowerCase() === 'invitations' }),
    streamArray(),
  ]);
  let row = 0;
  try {
    for await (const { value } of items as AsyncIterable<{ key: number; value: unknown }>) {
      yield { row: row++, value };
    }
  } catch (error) {
    throw new RosterFormatError(`The JSON is malformed: ${(error as Error).message}`);
  }
  if (row === 0) throw new RosterFormatError('The JSON roster has no invitations: expected {"invitations": [ ... ]}.');
}
