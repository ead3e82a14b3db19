import { stringify } from 'csv-stringify/sync';
import { mapWithConcurrency } from './concurrency';
import type { BatchItem, BatchMembership } from './batchMembership';
import { INVITATION_STATUSES, type InvitationStatus, type ListedInvitationRecord, withoutRedeemUrl } from './invitationRecord';
import type { InvitationStore } from './invitationStore';
import { problems } from './problem';

/**
 * GET /api/batches/{batchId}: a submission's items with each person's current record, status
 * counts, and the results CSV (the counterpart of the portal's bulk operation results).
 * Counts read every person's record (one point read each, in parallel): exact, and proportional
 * to the batch, never to the table.
 */

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1_000;
const PARALLEL_READS = 16;

export interface BatchReportItem extends ListedInvitationRecord {
  index: number;
  duplicate: boolean;
}

export interface BatchReport {
  batchId: string;
  total: number;
  counts: Record<InvitationStatus, number>;
  items: BatchReportItem[];
  continuationToken?: string;
}

export const RESULTS_CSV_COLUMNS = [
  'email', 'status', 'invitedUserId', 'errorCode', 'errorMessage', 'httpStatus', 'graphRequestId', 'externalId', 'id', 'attempts', 'updatedAt',
] as const;

/** The results CSV of a batch that has nobody in it (a roster whose every row was rejected). */
export function emptyResultsCsv(): string {
  return stringify([], { header: true, columns: [...RESULTS_CSV_COLUMNS] });
}

export class BatchReports {
  constructor(
    private readonly store: InvitationStore,
    private readonly membership: BatchMembership,
  ) {}

  async report(batchId: string, pageSize = DEFAULT_PAGE_SIZE, continuationToken?: string): Promise<BatchReport> {
    const [all, page] = await Promise.all([this.allItems(batchId), this.membership.page(batchId, pageSize, continuationToken)]);
    const counts = Object.fromEntries(INVITATION_STATUSES.map((status) => [status, 0])) as Record<InvitationStatus, number>;
    for (const item of all) counts[item.status] += 1;
    const onPage = new Set(page.items.map((item) => item.recordId));
    const items = all.filter((item) => onPage.has(item.id));
    return { batchId, total: all.length, counts, items, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
  }

  async resultsCsv(batchId: string): Promise<string> {
    const items = await this.allItems(batchId);
    const rows = items.map((item) => ({
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
    return stringify(rows, { header: true, columns: [...RESULTS_CSV_COLUMNS] });
  }

  /** Every person of the batch once, in submission order, with their current record. */
  private async allItems(batchId: string): Promise<BatchReportItem[]> {
    const byRecord = new Map<string, BatchItem>();
    for (const item of await this.membership.all(batchId)) if (!byRecord.has(item.recordId)) byRecord.set(item.recordId, item);
    if (byRecord.size === 0) throw problems.notFound(`No batch ${batchId}.`);
    return this.withRecords([...byRecord.values()]);
  }

  private async withRecords(items: readonly BatchItem[]): Promise<BatchReportItem[]> {
    const stored = await mapWithConcurrency(items, PARALLEL_READS, (item) => this.store.getById(item.recordId));
    return items.flatMap((item, position) => {
      const record = stored[position]?.record;
      return record ? [{ ...withoutRedeemUrl(record), index: item.index, duplicate: item.duplicate }] : [];
    });
  }
}
