import type { CredentialState, PauseState, SendingPause } from './graph';
import type { InvitationQueue, PartitionRows } from './storage';

/**
 * What GET /api/health reports, shared between instances through the app's own table: each
 * instance keeps one row (PartitionKey `health`, RowKey its instance id) with its Graph credential
 * state and the time of its last recorded outcome. HTTP requests and queue messages may be served
 * by different instances, so the answer is read from the rows, not from this process.
 */

// A row not refreshed for this long belongs to an instance that is gone: its state no longer counts.
// A failing instance refreshes its row with every announcement (once a minute).
const STALE_AFTER_MS = 5 * 60_000;
// The last outcome's time is written at most this often per instance: one small write, not one per person.
const OUTCOME_WRITE_INTERVAL_MS = 10_000;

export interface HealthReport {
  healthy: boolean;
  /** Sending is paused (graph/sendingPause.ts): why, since when, by whom, and how many people wait. */
  sending: { state: 'sending' } | (PauseState & { state: 'paused'; waiting: number });
  graphCredential: CredentialState & { instances?: number };
  queue: { depth: number; poisonDepth: number; oldestMessageAgeSeconds: number | null };
  lastOutcomeAt: string | null;
}

interface HealthRow {
  rowKey: string;
  reportedAt: string;
  credential?: string;
  lastOutcomeAt?: string;
}

export class HealthBoard {
  private lastOutcomeWrittenAt = 0;

  constructor(
    /** The `health` rows (storage/tableLayout.ts). */
    private readonly board: PartitionRows,
    /** This instance's id (WEBSITE_INSTANCE_ID on Azure), shared with its other rows. */
    private readonly instanceId: string,
  ) {}

  /** The circuit's state as this instance sees it. Best effort: health must never break the worker. */
  reportCredential(state: CredentialState): void {
    void this.write({ credential: JSON.stringify(state) });
  }

  outcomeRecorded(at = new Date()): void {
    if (at.getTime() - this.lastOutcomeWrittenAt < OUTCOME_WRITE_INTERVAL_MS) return;
    this.lastOutcomeWrittenAt = at.getTime();
    void this.write({ lastOutcomeAt: at.toISOString() });
  }

  async report(queue: InvitationQueue, pause?: SendingPause): Promise<HealthReport> {
    const [rows, depth, poisonDepth, oldest, paused] = await Promise.all([
      this.rows(),
      queue.queue.getProperties().then((properties) => properties.approximateMessagesCount ?? 0),
      queue.poisonQueue.getProperties().then((properties) => properties.approximateMessagesCount ?? 0),
      queue.queue.peekMessages({ numberOfMessages: 1 }).then((peeked) => peeked.peekedMessageItems[0]?.insertedOn),
      pause?.current(),
    ]);
    const now = Date.now();
    const live = rows.filter((row) => now - Date.parse(row.reportedAt) < STALE_AFTER_MS);
    const failing = live
      .map((row) => (row.credential ? (JSON.parse(row.credential) as CredentialState) : undefined))
      .filter((state): state is Extract<CredentialState, { state: 'failing' }> => state?.state === 'failing')
      .sort((a, b) => a.since.localeCompare(b.since));
    const lastOutcomeAt =
      rows
        .map((row) => row.lastOutcomeAt ?? '')
        .sort()
        .at(-1) || null;
    return {
      healthy: failing.length === 0 && !paused,
      sending: paused ? { ...paused, state: 'paused', waiting: depth } : { state: 'sending' },
      graphCredential: failing[0] ? { ...failing[0], instances: failing.length } : { state: 'ok' },
      queue: { depth, poisonDepth, oldestMessageAgeSeconds: oldest ? Math.max(0, Math.round((now - oldest.getTime()) / 1000)) : null },
      lastOutcomeAt,
    };
  }

  private async write(properties: Omit<HealthRow, 'rowKey' | 'reportedAt'>): Promise<void> {
    await this.board.upsert(this.instanceId, { reportedAt: new Date().toISOString(), ...properties }, 'Merge').catch(() => undefined);
  }

  private async rows(): Promise<HealthRow[]> {
    const rows: HealthRow[] = [];
    for await (const row of this.board.list<HealthRow>()) rows.push(row);
    return rows;
  }
}
