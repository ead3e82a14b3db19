import { z } from 'zod';
import {
  mapWithConcurrency,
  INVITATION_STATUSES,
  withoutRedeemUrl,
  type InvitationStatus,
  type ListedInvitationRecord,
  NotFound,
  InvalidRequest,
  type RejectedItem,
} from '../core';
import type { InvitationStore } from '../storage';
import { stringifyForSpreadsheets } from './spreadsheetCsv';
import { noCounts, type BatchLedger, type BatchPerson, type BatchSummary as LedgerSummary } from './batchLedger';
import type { BatchIndex } from './batchIndex';
import type { BatchSource } from './batchSource';
import type { RejectedRows } from './rejectedRows';

/**
 * GET /api/batches and /api/batches/{batchId}: a batch's counts, a page of its people and the rows
 * its submissions rejected, and the results CSV (the counterpart of the portal's bulk operation
 * results), which lists every row submitted: each person, and each rejected row with status
 * `Rejected` and its reasons. Counts and a page come from the batch ledger (batchLedger.ts) in two
 * point reads, whatever the batch's size; a page of one status is a query; the CSV reads the whole batch.
 */

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1_000;
const PARALLEL_READS = 16;

export interface BatchReportItem extends ListedInvitationRecord {
  /** The person's position in the submission that named them (unknown for a moment if a worker was quicker than the intake). */
  index?: number;
  /** Named while another batch had the person in hand: shown with their current record, counted under `duplicates`. */
  duplicate: boolean;
}

export interface BatchSummary {
  batchId: string;
  source?: BatchSource;
  createdAt?: string;
  /** The people this batch queued, by status. */
  counts: Record<InvitationStatus, number>;
  /** The people it named that another batch had in hand. */
  duplicates: number;
}

export interface BatchReport extends BatchSummary {
  /** The people the page is drawn from: the batch's, or those in `status`. */
  total: number;
  items: BatchReportItem[];
  /** The rows the batch's submissions rejected (never people, never queued), with their position and reasons. */
  rejected: RejectedItem[];
  continuationToken?: string;
}

export interface ReportOptions {
  /** @default DEFAULT_PAGE_SIZE (100) */
  pageSize?: number;
  /** From the previous page's answer. */
  continuationToken?: string;
  /** Only the people in this status (the counts are the whole batch's). */
  status?: InvitationStatus;
}

export const RESULTS_CSV_COLUMNS = [
  'row',
  'email',
  'status',
  'invitedUserId',
  'errorCode',
  'errorMessage',
  'httpStatus',
  'graphRequestId',
  'externalId',
  'id',
  'attempts',
  'updatedAt',
  'emailStatus',
  'groups',
  'profile',
  'warning',
  // What a rejected row held (its address is in `email`), so that it can be fixed from this file alone.
  'displayName',
  'submitted',
] as const;

/** The results CSV of a batch with no row at all (a roster with a heading and nothing under it). */
export function emptyResultsCsv(): string {
  return resultsCsvOf([], []);
}

export class BatchReports {
  constructor(
    private readonly store: InvitationStore,
    private readonly ledger: BatchLedger,
    private readonly rejectedRows: RejectedRows,
    private readonly index: BatchIndex,
  ) {}

  /**
   * Counts and one page of the batch's people, each once however many submissions named them: in
   * the order the batch named them (two point reads), or with `status`, those in it (a query).
   */
  async report(batchId: string, { pageSize = DEFAULT_PAGE_SIZE, continuationToken, status }: ReportOptions = {}): Promise<BatchReport> {
    const cursor = continuationToken ? decodeContinuation(continuationToken) : {};
    if (status ? cursor.offset !== undefined : cursor.place !== undefined) throw notThisQuery();
    if (cursor.after !== undefined) throw notThisQuery();
    const offset = cursor.offset ?? 0;
    const [stored, page] = await Promise.all([
      this.ledger.summary(batchId),
      status
        ? this.ledger.peopleCountedAs(batchId, status, { pageSize, ...(cursor.place !== undefined ? { after: cursor.place } : {}) })
        : this.ledger.peopleAt(batchId, offset, pageSize).then((people) => ({ people, after: undefined })),
    ]);
    if (!stored) throw new NotFound(`No batch ${batchId}.`);
    const summary = summaryOf(batchId, stored);
    const people = summary.duplicates + Object.values(summary.counts).reduce((sum, count) => sum + count, 0);
    const next: Continuation | false = status
      ? page.after !== undefined && { place: page.after }
      : offset + pageSize < stored.people && { offset: offset + pageSize };
    return {
      ...summary,
      total: status ? summary.counts[status] : people,
      items: await this.itemsOf(page.people),
      rejected: stored.hasRejected ? await this.rejectedRows.read(batchId) : [],
      ...(next ? { continuationToken: encodeContinuation(next) } : {}),
    };
  }

  /** Recent batches, newest first, with their counts. */
  async list({ pageSize = 20, continuationToken }: { pageSize?: number; continuationToken?: string } = {}) {
    const { after } = continuationToken ? decodeContinuation(continuationToken) : {};
    const page = await this.index.list({ pageSize, ...(after ? { after } : {}) });
    const batches = await mapWithConcurrency(page.batches, PARALLEL_READS, async (entry) => {
      const stored = await this.ledger.summary(entry.batchId);
      return summaryOf(entry.batchId, { ...stored, source: entry.source, createdAt: entry.createdAt });
    });
    return { batches, ...(page.after ? { continuationToken: encodeContinuation({ after: page.after }) } : {}) };
  }

  async resultsCsv(batchId: string): Promise<string> {
    const stored = await this.ledger.summary(batchId);
    if (!stored) throw new NotFound(`No batch ${batchId}.`);
    const [people, rejected] = await Promise.all([
      this.ledger.all(batchId),
      stored.hasRejected ? this.rejectedRows.read(batchId) : Promise.resolve([]),
    ]);
    return resultsCsvOf(await this.itemsOf(people), rejected);
  }

  /**
   * The results CSV once no person of the batch is Queued or Processing, else undefined: asked on
   * every onboarding run for every roster in progress, so it decides from the counts (one read).
   */
  async finalResultsCsv(batchId: string): Promise<string | undefined> {
    const counts = await this.ledger.counts(batchId);
    if (counts.Queued > 0 || counts.Processing > 0) return undefined;
    return this.resultsCsv(batchId);
  }

  /** The people as listed; a duplicate with the record they have now (another batch's), the others as the ledger holds them. */
  private async itemsOf(people: readonly BatchPerson[]): Promise<BatchReportItem[]> {
    const current = await mapWithConcurrency(people, PARALLEL_READS, async (person): Promise<ListedInvitationRecord> => {
      const live = person.duplicate ? await this.store.getById(person.record.id) : undefined;
      return live ? withoutRedeemUrl(live.record) : person.record;
    });
    return people.map((person, position) => ({
      ...current[position]!,
      ...(person.index !== undefined ? { index: person.index } : {}),
      duplicate: person.duplicate,
    }));
  }
}

function summaryOf(batchId: string, stored: Partial<LedgerSummary>): BatchSummary {
  const counts = stored.counts ?? noCounts();
  const { Duplicate: duplicates, ...statuses } = counts;
  return {
    batchId,
    ...(stored.source ? { source: stored.source } : {}),
    ...(stored.createdAt ? { createdAt: stored.createdAt } : {}),
    counts: Object.fromEntries(INVITATION_STATUSES.map((name) => [name, statuses[name]])) as Record<InvitationStatus, number>,
    duplicates,
  };
}

/**
 * Where the next page starts: a place in the batch (`offset`), the last place a filtered page
 * listed (`place`), or the key of the last batch listed (`after`).
 */
const continuationSchema = z.union([
  z.object({ offset: z.number().int().nonnegative() }).strict(),
  z.object({ place: z.number().int().nonnegative() }).strict(),
  z.object({ after: z.string().min(1).max(200) }).strict(),
]);
type Continuation = { offset?: number; place?: number; after?: string };

function encodeContinuation(next: Continuation): string {
  return Buffer.from(JSON.stringify(next), 'utf8').toString('base64url');
}

const notThisQuery = () => new InvalidRequest('continuationToken is not one this API handed out for this query.');

function decodeContinuation(token: string): Continuation {
  try {
    return continuationSchema.parse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
  } catch {
    throw new InvalidRequest('continuationToken is not one this API handed out.');
  }
}

/** Every row submitted: the people (row = their position in their submission, from 1), then the rejected rows. */
function resultsCsvOf(items: readonly BatchReportItem[], rejected: readonly RejectedItem[]): string {
  const people = items.map((item) => ({
    row: item.index !== undefined ? item.index + 1 : '',
    email: item.email,
    status: item.status,
    invitedUserId: item.invitedUserId ?? '',
    errorCode: item.error?.code ?? '',
    errorMessage: item.error?.message ?? '',
    httpStatus: item.error?.httpStatus ?? '',
    graphRequestId: item.error?.graphRequestId ?? item.graphRequestId ?? '',
    externalId: item.externalId ?? '',
    id: item.id,
    attempts: item.attempts,
    updatedAt: item.updatedAt,
    emailStatus: item.emailStatus ? `${item.emailStatus}${item.emailError ? `: ${item.emailError}` : ''}` : '',
    // Each group as `<id>:<status>`, with the reason a group add failed.
    groups: (item.groups ?? []).map((group) => `${group.id}:${group.status}${group.error ? ` (${group.error})` : ''}`).join('; '),
    profile: item.profileStatus ? `${item.profileStatus}${item.profileError ? `: ${item.profileError}` : ''}` : '',
    warning: item.warning ?? '',
  }));
  const rejectedRows = rejected.map((item) => ({
    row: item.index + 1,
    email: item.submitted?.email ?? '',
    displayName: item.submitted?.displayName ?? '',
    submitted: item.submitted?.raw ?? '',
    status: 'Rejected',
    errorCode: 'InvalidRow',
    errorMessage: item.errors.map((error) => `${error.path}: ${error.message}`).join('; '),
  }));
  return stringifyForSpreadsheets([...people, ...rejectedRows], { header: true, columns: [...RESULTS_CSV_COLUMNS] });
}
