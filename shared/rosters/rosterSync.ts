import { normalizeEmailAddress, NotAllowed } from '../core';
import { stringifyForSpreadsheets } from '../batches';
import { PLAN_CSV_COLUMNS } from '../intake';
import type { LeaverAnswer, Leavers } from '../lifecycle';
import type { InvitationStore, StoredRecord } from '../storage';

/**
 * A partner's roster as the truth: a roster whose blob metadata says `sync=true` and names the
 * partner (`partner=<key>`) stamps its people with that partner, and the partner's people whom it
 * no longer names become leavers (lifecycle/leavers.ts: Left, then LEAVER_ACTION after LEAVER_GRACE).
 * As provisioning engines guard against accidental deletes, a roster that would make more than
 * SYNC_MAX_LEAVERS_PERCENT of the partner's people leavers stops before anything happens, and
 * goes ahead only once an operator confirms the count (metadata `allowLeavers=<n>`).
 * Only people recorded from the partner's own synced rosters can leave this way: someone invited
 * through the API, or by another partner's roster, is never that partner's to remove.
 */

/** What a roster's metadata says of syncing: nothing, a sync of one partner, or a mistake (its reason). */
export type SyncRequest = { partner: string; allowLeavers?: number } | { problem: string } | undefined;

const PARTNER_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function syncRequestOf(metadata: Record<string, string>): SyncRequest {
  const value = (key: string) =>
    Object.entries(metadata)
      .find(([name]) => name.toLowerCase() === key)?.[1]
      ?.trim();
  const sync = value('sync');
  if (sync === undefined || sync.toLowerCase() === 'false') return undefined;
  if (sync.toLowerCase() !== 'true') return { problem: `The roster's metadata sync must be "true" or "false", not "${sync}".` };
  const partner = value('partner');
  if (!partner || !PARTNER_KEY.test(partner))
    return {
      problem:
        'A synced roster (metadata sync=true) must name its partner: metadata partner=<key> (letters, digits, ".", "_" or "-", at most 64), the same key on every roster of that partner.',
    };
  const allow = value('allowleavers');
  if (allow !== undefined && !/^\d+$/.test(allow))
    return { problem: `The roster's metadata allowLeavers must be a number of people, not "${allow}".` };
  return { partner, ...(allow !== undefined ? { allowLeavers: Number(allow) } : {}) };
}

/** Who would leave, and whether the guard lets them. */
export interface SyncVerdict {
  partner: string;
  /** The partner's people the app has (not counting those who left before). */
  people: number;
  leavers: StoredRecord[];
  /** Why the roster stops (the guard), or undefined when it may go ahead. */
  stopped?: string;
}

export interface RosterSyncOptions {
  /** INVITE_ALLOW_LEAVERS: without it, a synced roster is refused. */
  allowed: boolean;
  /** SYNC_MAX_LEAVERS_PERCENT. */
  maxLeaversPercent: number;
  /** LEAVER_ACTION, as a plan tells it. */
  leaverAction: 'report' | 'disable' | 'delete';
}

export class RosterSync {
  constructor(
    private readonly store: Pick<InvitationStore, 'partnerPeople'>,
    private readonly leavers: Pick<Leavers, 'leaveAll'>,
    private readonly options: RosterSyncOptions,
  ) {}

  ensureAllowed(): void {
    if (!this.options.allowed)
      throw new NotAllowed(
        "A synced roster (metadata sync=true) makes the partner's people it no longer names leavers, and only the operator grants that (INVITE_ALLOW_LEAVERS=true).",
      );
  }

  /**
   * The partner's people this roster does not name (`because` names the roster: people it made
   * leavers already still count, so a run resumed after a crash reports them again).
   */
  async verdict(
    request: { partner: string; allowLeavers?: number },
    rosterEmails: ReadonlySet<string>,
    because: string,
  ): Promise<SyncVerdict> {
    const partnerPeople = await this.store.partnerPeople(request.partner);
    const current = partnerPeople.filter(({ record }) => record.status !== 'Left' || record.leftBecause === because);
    const leavers = current.filter(({ record }) => !rosterEmails.has(normalizeEmailAddress(record.email)));
    const share = current.length === 0 ? 0 : (leavers.length / current.length) * 100;
    const confirmed = request.allowLeavers !== undefined && request.allowLeavers >= leavers.length;
    const verdict: SyncVerdict = { partner: request.partner, people: current.length, leavers };
    if (share <= this.options.maxLeaversPercent || confirmed) return verdict;
    return {
      ...verdict,
      stopped: `this roster would make ${leavers.length} of partner ${request.partner}'s ${current.length} people leavers (${Math.round(share)}%), more than SYNC_MAX_LEAVERS_PERCENT (${this.options.maxLeaversPercent}%): nobody was invited or removed. If that is right, set the roster's metadata allowLeavers=${leavers.length} and it runs again.`,
    };
  }

  async apply(verdict: SyncVerdict, because: string, deadline: number): Promise<LeaverAnswer[]> {
    return this.leavers.leaveAll(verdict.leavers, because, deadline);
  }

  /** A dry run's lines for the leavers, in the plan's own columns, after the roster's rows. */
  planLines(verdict: SyncVerdict): string {
    const action = this.options.leaverAction;
    const rows = verdict.leavers.map(({ record }) => ({
      row: '',
      email: record.email,
      outcome: 'Leave',
      realRun: verdict.stopped
        ? `would leave, but the roster stops: ${verdict.stopped}`
        : `leaves (not in partner ${verdict.partner}'s new roster): Left, then LEAVER_ACTION=${action} on the guest this app created`,
      callsGraph: !verdict.stopped && action !== 'report',
      recordId: record.id,
      recordStatus: record.status,
    }));
    return stringifyForSpreadsheets(rows, { header: false, columns: [...PLAN_CSV_COLUMNS] });
  }
}

export const LEAVERS_CSV_COLUMNS = ['id', 'email', 'externalId', 'statusBefore', 'outcome', 'action', 'actionDueAt', 'note'] as const;

/** results/<name>-leavers.csv: who left by this roster (or would have, when the guard stopped it), one line each. */
export function leaversCsv(verdict: SyncVerdict, answers?: readonly LeaverAnswer[]): string {
  const answerOf = new Map((answers ?? []).map((answer) => [answer.id, answer]));
  const rows = verdict.leavers.map(({ record }) => {
    const answer = answerOf.get(record.id);
    return {
      id: record.id,
      email: record.email,
      externalId: record.externalId ?? '',
      statusBefore: record.status === 'Left' ? (record.statusBeforeLeaving ?? '') : record.status,
      outcome: verdict.stopped ? 'NotDone' : 'Left',
      action: answer?.action ?? '',
      actionDueAt: answer?.actionDueAt ?? '',
      note: verdict.stopped ?? answer?.note ?? answer?.error ?? '',
    };
  });
  return stringifyForSpreadsheets(rows, { header: true, columns: [...LEAVERS_CSV_COLUMNS] });
}
