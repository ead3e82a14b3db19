import { type TableClient } from '@azure/data-tables';
import { isNotFound } from '../storage';

/**
 * The expiry policy (EXPIRE_AFTER with EXPIRED_ACTION) the scheduled tracker has already reported
 * under: one row, PartitionKey `lifecycle`, RowKey `expiry-policy`. A policy the timer has not
 * seen before (just turned on, or changed) is only reported on its first run: an operator who sets
 * EXPIRE_AFTER=P30D with EXPIRED_ACTION=delete on a pipeline with a year of pending guests sees
 * who would go (in the run's log and GET /api/expired after a dry run) before anyone is deleted.
 */

const PARTITION = 'lifecycle';
const ROW = 'expiry-policy';

export class ExpiryPolicyMemory {
  constructor(private readonly table: TableClient) {}

  /** Whether the timer has run under this policy before. */
  async hasSeen(policy: string): Promise<boolean> {
    try {
      const row = await this.table.getEntity<{ policy?: string }>(PARTITION, ROW);
      return row.policy === policy;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async remember(policy: string): Promise<void> {
    await this.table.upsertEntity({ partitionKey: PARTITION, rowKey: ROW, policy, seenAt: new Date().toISOString() }, 'Replace');
  }
}
