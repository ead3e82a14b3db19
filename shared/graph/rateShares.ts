import { randomUUID } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import type { GraphPacer } from './graphPacer';

/**
 * One Graph budget for the app, however many instances run. Graph's limits are per app and
 * tenant while pacing is per process, and Flex Consumption adds and removes instances by the
 * minute; so each instance that is calling Graph keeps a row in the app's own table (PartitionKey
 * `pacer`, RowKey its instance id), rewritten every heartbeat, and takes an equal share of
 * GRAPH_MAX_WRITES_PER_SECOND among the busy instances it sees. Each instance's pacer then adapts
 * within its share (graphPacer.ts).
 *
 * Failure modes (docs/performance.md, "One budget for the app"):
 * - an instance that dies holding a share: its row stops being rewritten and is no longer counted
 *   after STALE_HEARTBEATS heartbeats; the others grow into its share;
 * - clock skew: liveness is judged by the rows' Timestamp, which the storage service sets, against
 *   the newest Timestamp in the same read, never against this machine's clock;
 * - the storage account's limits: one upsert and one partition read per instance per heartbeat
 *   (40 instances: 80 operations a second, against a partition's 2,000);
 * - storage unavailable: the last share is kept (the pacer's 429 handling still protects Graph).
 */

export interface RateSharesOptions {
  table: TableClient;
  pacer: GraphPacer;
  /** @default WEBSITE_INSTANCE_ID (one per Azure instance), or a new id per process */
  instanceId?: string;
  /** @default 1_000 */
  heartbeatMs?: number;
}

const PARTITION = 'pacer';
// A row not rewritten for this many heartbeats belongs to an instance that is gone or idle (a busy
// instance on a loaded machine may miss a beat or two: it must not look gone).
const STALE_HEARTBEATS = 5;

interface ShareRow {
  rowKey: string;
  busy: boolean;
  timestamp?: string;
}

export class RateShares {
  private timer: NodeJS.Timeout | undefined;
  private readonly instanceId: string;
  private readonly heartbeatMs: number;
  /** The busy instances seen at the last heartbeat (this one included when busy). */
  instances = 1;

  constructor(private readonly options: RateSharesOptions) {
    this.instanceId = options.instanceId ?? (process.env.WEBSITE_INSTANCE_ID || randomUUID());
    this.heartbeatMs = options.heartbeatMs ?? 1_000;
  }

  /** Starts heartbeating (once; later calls do nothing). Called when the pacer first has work. */
  start(): void {
    if (this.timer) return;
    const beat = () => {
      void this.beat()
        .catch(() => undefined)
        .finally(() => {
          if (this.timer) this.timer = setTimeout(beat, this.heartbeatMs).unref();
        });
    };
    this.timer = setTimeout(beat, 0).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat: says whether this instance is busy, counts the busy ones, and sets the pacer's share. */
  async beat(): Promise<number> {
    const busy = Date.now() - this.options.pacer.lastDemandAt < STALE_HEARTBEATS * this.heartbeatMs;
    await this.options.table.upsertEntity({ partitionKey: PARTITION, rowKey: this.instanceId, busy }, 'Replace');
    const rows: ShareRow[] = [];
    for await (const row of this.options.table.listEntities<ShareRow>({ queryOptions: { filter: odata`PartitionKey eq ${PARTITION}` } })) rows.push(row);
    const newest = Math.max(...rows.map((row) => Date.parse(row.timestamp ?? '') || 0));
    const live = rows.filter((row) => newest - (Date.parse(row.timestamp ?? '') || 0) <= STALE_HEARTBEATS * this.heartbeatMs);
    this.instances = Math.max(1, live.filter((row) => row.busy || row.rowKey === this.instanceId).length);
    const share = 1 / this.instances;
    this.options.pacer.setShare(share);
    return share;
  }
}
