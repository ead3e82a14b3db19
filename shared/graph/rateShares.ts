import { randomUUID } from 'node:crypto';
import type { PartitionRows } from '../storage';
import type { GraphPacer } from './graphPacer';

/**
 * One Graph budget for the app, however many instances run. Graph's limits are per app and
 * tenant while pacing is per process, and Flex Consumption adds and removes instances by the
 * minute; so each instance that is calling Graph keeps a row in the app's own table (PartitionKey
 * `pacer`, RowKey its instance id), rewritten every heartbeat, and takes its share of
 * GRAPH_MAX_WRITES_PER_SECOND among the busy instances it sees (shareOf, below). Each instance's pacer then adapts
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
  /** The `pacer` rows (storage/tableLayout.ts). */
  rows: PartitionRows;
  pacer: GraphPacer;
  /** @default WEBSITE_INSTANCE_ID (one per Azure instance), or a new id per process */
  instanceId?: string;
  /** @default 1_000 */
  heartbeatMs?: number;
}

// A row not rewritten for this many heartbeats belongs to an instance that is gone (an idle one
// still beats, saying it is not busy; a busy one on a loaded machine may miss a beat or two: it
// must not look gone).
const STALE_HEARTBEATS = 5;
// An instance that asked for no turn for this long is idle, and leaves its share to the others.
// Not sooner: a busy instance's calls may all wait on storage for seconds on a loaded machine, and
// shares that changed with each such pause sent every other instance's rate up and down with them.
const IDLE_AFTER_MS = 15_000;

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
    const { pacer } = this.options;
    const busy = Date.now() - pacer.lastDemandAt < IDLE_AFTER_MS;
    await this.options.rows.upsert(this.instanceId, { busy }, 'Replace');
    const rows: ShareRow[] = [];
    for await (const row of this.options.rows.list<ShareRow>()) rows.push(row);
    const newest = Math.max(...rows.map((row) => Date.parse(row.timestamp ?? '') || 0));
    const live = rows.filter((row) => newest - (Date.parse(row.timestamp ?? '') || 0) <= STALE_HEARTBEATS * this.heartbeatMs);
    const busyIds = live.filter((row) => row.busy || row.rowKey === this.instanceId).map((row) => row.rowKey);
    this.instances = Math.max(1, busyIds.length);
    const rank = Math.max(0, busyIds.sort().indexOf(this.instanceId));
    const share = shareOf(rank, this.instances, pacer.maxWritesPerSecond);
    pacer.setShare(share);
    return share;
  }
}

/**
 * The share of `ceiling` writes/s for the instance at `rank` (0-based, in instance-id order) of
 * `instances` busy ones: whole writes per second while they go round, else an equal share.
 * Whole numbers, because a process pacing evenly at r writes/s puts floor(r) or ceil(r) calls in
 * any one-second window, depending on where the window falls; at a whole r it puts exactly r.
 * So shares of 3, 3, 3, 3, 2, 2, 2, 2 fill a strict 20-per-second window exactly whatever the
 * instances' phases, where eight shares of 2.5 put up to 24 calls in some windows (a 429 each
 * time). The writes left after the even split go to the first instances in id order: the least
 * share is never under half of an equal one.
 */
export function shareOf(rank: number, instances: number, ceiling: number): number {
  const whole = Math.floor(ceiling / instances);
  if (whole < 1) return 1 / instances;
  const extra = Math.floor(ceiling) - whole * instances;
  return (whole + (rank < extra ? 1 : 0)) / ceiling;
}
