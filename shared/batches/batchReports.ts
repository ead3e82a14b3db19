import { z } from 'zod';
import { mapWithConcurrency } from '../concurrency';
import type { BatchItem, BatchMembership } from './batchMembership';
import {
  FINAL_STATUSES,
  INVITATION_STATUSES,
  type InvitationStatus,
  type ListedInvitationRecord,
  withoutRedeemUrl,
} from '../invitationRecord';
import type { InvitationStore } from '../storage/invitationStore';
import { problems } from '../problem';
import { stringifyForSpreadsheets } from './spreadsheetCsv';
import type { RejectedItem } from '../intake/submission';

/**
 * GET /api/batches/{batchId}: a submission's items with each person's current record, status
 * counts, the rows its submissions rejected, and the results CSV (the counterpart of the portal's
 * bulk operation results), which lists every row submitted: each person, and each rejected row
 * with status `Rejected` and its reasons.
 * Counts read every person's record (one point read each, in parallel): exact, and proportional
 * to the batch, never to the table.
 */

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1_000;
const PARALLEL_READS = 16;
/** Records read per step while checking whether a batch is final (a few steps of parallel reads). */
const FINALITY_STEP = 4 * PARALLEL_READS;

export interface BatchReportItem extends ListedInvitationRecord {
  index: number;
  duplicate: boolean;
}

export interface BatchReport {
  batchId: string;
  total: number;
  counts: Record<InvitationStatus, number>;
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
] as const;

/** The results CSV of a batch with no row at all (a roster with a heading and nothing under it). */
export function emptyResultsCsv(): string {
  return resultsCsvOf([], []);
}

export class BatchReports {
  constructor(
    private readonly store: InvitationStore,
    private readonly membership: BatchMembership,
  ) {}

  /**
   * Counts and one page of the batch's people, each person once (where a batch first named them)
   * however many submissions named them; with `status`, a page of just the people in it. Pages
   * are slices of that list: the counts read it whole anyway, and slicing it keeps pages and
   * `total` in agreement (`total` counts the people the page is drawn from).
   */
  async report(batchId: string, { pageSize = DEFAULT_PAGE_SIZE, continuationToken, status }: ReportOptions = {}): Promise<BatchReport> {
    const offset = continuationToken ? decodeContinuation(continuationToken) : 0;
    const { items: unique, rejected } = await this.uniqueItems(batchId);
    const all = await this.withRecords(unique);
    const counts = Object.fromEntries(INVITATION_STATUSES.map((name) => [name, 0])) as Record<InvitationStatus, number>;
    for (const item of all) counts[item.status] += 1;
    const listed = status ? all.filter((item) => item.status === status) : all;
    const items = listed.slice(offset, offset + pageSize);
    const next = offset + pageSize < listed.length ? { continuationToken: encodeContinuation(offset + pageSize) } : {};
    return { batchId, total: listed.length, counts, items, rejected, ...next };
  }

  async resultsCsv(batchId: string): Promise<string> {
    const { items, rejected } = await this.uniqueItems(batchId);
    return resultsCsvOf(await this.withRecords(items), rejected);
  }

  /**
   * The results CSV once every person of the batch has a final status, else undefined. Asked on
   * every onboarding run for every roster still in progress, so it reads from the batch's end (the
   * last people submitted are the last processed) and stops at the first one still waiting: one
   * step of reads while a batch is being worked on, every record once when it is done.
   */
  async finalResultsCsv(batchId: string): Promise<string | undefined> {
    const { items, rejected } = await this.uniqueItems(batchId);
    const steps: BatchReportItem[][] = [];
    for (let end = items.length; end > 0; end -= FINALITY_STEP) {
      const step = await this.withRecords(items.slice(Math.max(0, end - FINALITY_STEP), end));
      if (step.some((item) => !FINAL_STATUSES.has(item.status))) return undefined;
      steps.unshift(step);
    }
    return resultsCsvOf(steps.flat(), rejected);
  }

  /** Every person of the batch once, in submission order, and the rows its submissions rejected. */
  private async uniqueItems(batchId: string): Promise<{ items: BatchItem[]; rejected: RejectedItem[] }> {
    const { items, rejected } = await this.membership.read(batchId);
    const byRecord = new Map<string, BatchItem>();
    for (const item of items) if (!byRecord.has(item.recordId)) byRecord.set(item.recordId, item);
    if (byRecord.size === 0 && rejected.length === 0) throw problems.notFound(`No batch ${batchId}.`);
    return { items: [...byRecord.values()], rejected };
  }

  private async withRecords(items: readonly BatchItem[]): Promise<BatchReportItem[]> {
    const stored = await mapWithConcurrency(items, PARALLEL_READS, (item) => this.store.getById(item.recordId));
    return items.flatMap((item, position) => {
      const record = stored[position]?.record;
      return record ? [{ ...withoutRedeemUrl(record), index: item.index, duplicate: item.duplicate }] : [];
    });
  }
}

const continuationSchema = z.object({ offset: z.number().int().nonnegative() });

function encodeContinuation(offset: number): string {
  return Buffer.from(JSON.stringify({ offset }), 'utf8').toString('base64url');
}

function decodeContinuation(token: string): number {
  try {
    return continuationSchema.parse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))).offset;
  } catch {
    throw problems.invalidRequest('continuationToken is not one this API handed out.');
  }
}

/** Every row submitted: the people (row = their position in their submission, from 1), then the rejected rows. */
function resultsCsvOf(items: readonly BatchReportItem[], rejected: readonly RejectedItem[]): string {
  const people = items.map((item) => ({
    row: item.index + 1,
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
  }));
  const rejectedRows = rejected.map((item) => ({
    row: item.index + 1,
    status: 'Rejected',
    errorCode: 'InvalidRow',
    errorMessage: item.errors.map((error) => `${error.path}: ${error.message}`).join('; '),
  }));
  return stringifyForSpreadsheets([...people, ...rejectedRows], { header: true, columns: [...RESULTS_CSV_COLUMNS] });
}
