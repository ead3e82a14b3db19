import type { PartitionRows } from '../storage';

/**
 * The expiry policy (EXPIRE_AFTER with EXPIRED_ACTION) the scheduled tracker has already reported
 * under: one row, PartitionKey `lifecycle`, RowKey `expiry-policy`. A policy the timer has not
 * seen before (just turned on, or changed) is only reported on its first run: an operator who sets
 * EXPIRE_AFTER=P30D with EXPIRED_ACTION=delete on a pipeline with a year of pending guests sees
 * who would go (in the run's log and GET /api/expired after a dry run) before anyone is deleted.
 */

const ROW = 'expiry-policy';

export class ExpiryPolicyMemory {
  /** @param rows the `lifecycle` rows (storage/tableLayout.ts) */
  constructor(private readonly rows: PartitionRows) {}

  /** Whether the timer has run under this policy before. */
  async hasSeen(policy: string): Promise<boolean> {
    return (await this.rows.find<{ policy?: string }>(ROW))?.policy === policy;
  }

  async remember(policy: string): Promise<void> {
    await this.rows.upsert(ROW, { policy, seenAt: new Date().toISOString() }, 'Replace');
  }
}
