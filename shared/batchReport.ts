import { stringify } from 'csv-stringify/sync';
import { mapWithConcurrency } from './concurrency';
import { FINAL_STATUSES, INVITATION_STATUSES, type InvitationStatus, type ListedInvitationRecord, withoutRedeemUrl } from './invitationRecord';
import type { BatchItem, InvitationStore } from './invitationStore';
import { problems } from './problem';

/**
 * GET /api/batches/{batchId}: a submission's items with each person's current record, status
 * counts, and the results CSV (the counterpart of the portal's bulk operation results).
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

export class BatchReports {
  constructor(private readonly store: InvitationStore) {}

  async report(batchId: string, pageSize = DEFAULT_PAGE_SIZE, continuationToken?: string): Promise<BatchReport> {
    const [summary, page] = await Promise.all([this.summarize(batchId), this.store.listBatchItems(batchId, pageSize, continuationToken)]);
    if (summary.total === 0) throw problems.notFound(`No batch ${batchId}.`);
    const items = await this.withRecords(page.items);
    return { batchId, ...summary, items, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
  }

  async resultsCsv(batchId: string): Promise<string> {
    const all: BatchItem[] = [];
    for await (const item of this.store.allBatchItems(batchId)) all.push(item);
    if (all.length === 0) throw problems.notFound(`No batch ${batchId}.`);
    const items = (await this.withRecords(all)).sort((a, b) => a.index - b.index);
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

  /**
   * Counts per status. A batch row whose status is final is the outcome for that batch (the worker
   * writes it after the record); a row still in flight is read from its record.
   */
  private async summarize(batchId: string): Promise<{ total: number; counts: Record<InvitationStatus, number> }> {
    const counts = Object.fromEntries(INVITATION_STATUSES.map((status) => [status, 0])) as Record<InvitationStatus, number>;
    const inFlight: string[] = [];
    let total = 0;
    for await (const item of this.store.allBatchItems(batchId)) {
      total += 1;
      if (FINAL_STATUSES.has(item.status)) counts[item.status] += 1;
      else inFlight.push(item.recordId);
    }
    const current = await mapWithConcurrency(inFlight, PARALLEL_READS, (id) => this.store.getById(id));
    for (const stored of current) if (stored) counts[stored.record.status] += 1;
    return { total, counts };
  }

  private async withRecords(items: readonly BatchItem[]): Promise<BatchReportItem[]> {
    const stored = await mapWithConcurrency(items, PARALLEL_READS, (item) => this.store.getById(item.recordId));
    return items.flatMap((item, position) => {
      const record = stored[position]?.record;
      return record ? [{ ...withoutRedeemUrl(record), index: item.index, duplicate: item.duplicate }] : [];
    });
  }
}
