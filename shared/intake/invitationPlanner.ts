import {
  mapWithConcurrency,
  recordIdForEmail,
  type AcceptedItem,
  type Invitation,
  type InvitationStatus,
  type ItemError,
  type RejectedItem,
  type SubmittedValues,
} from '../core';
import {
  GraphCallError,
  MAX_BATCH_REQUESTS,
  type DirectoryQuotaCheck,
  type EmailLookup,
  type GraphDirectoryClient,
  type GuestInviteCheck,
  type TenantSettings,
} from '../graph';
import { type InvitationStore, moveOf, returnOf, shouldQueueAgain, type StoredRecord } from '../storage';
import type { InvitationPolicy } from './invitationPolicy';
import { screenSubmission } from './submissionScreening';

/**
 * A dry run of a submission (`POST /api/invitations?dryRun=true`, `entra-invite plan`, a roster
 * with `dryRun=true`), like `terraform plan`: what the real submission would do with each row,
 * before anything is written. It only reads: the app's own records, and Graph's directory (one
 * lookup per address not already in the pipeline, 20 to a `$batch`, within the read budget), and
 * the tenant's own settings where the app may read them. It writes no record, no batch row, no
 * message and nothing to Graph.
 */

export const PLAN_OUTCOMES = ['Invite', 'AlreadyGuest', 'AlreadyMember', 'AlreadyInPipeline', 'Duplicate', 'Rejected'] as const;
export type PlanOutcome = (typeof PLAN_OUTCOMES)[number];

export interface PlanEntry {
  /** The row's place in the submission, from 1. */
  row: number;
  /** The address, normalised; for a rejected row, as submitted ('' when it had none). */
  email: string;
  outcome: PlanOutcome;
  /** What the real submission would do with this row. */
  realRun: string;
  /** Whether the real submission would call Graph for this row (and count against the write budget). */
  callsGraph: boolean;
  /** AlreadyGuest: the guest who has the address, and whether they have accepted. */
  guest?: { id: string; externalUserState: string | null };
  /** AlreadyInPipeline: the app's record of the person. */
  record?: { id: string; status: InvitationStatus };
  /** AlreadyInPipeline: a mover, whose changed profile alone would be written onto their guest. */
  profileChanged?: true;
  /** AlreadyInPipeline: a mover's new address, with the address the person has now. */
  emailChangedFrom?: string;
  /** AlreadyInPipeline: a leaver who would come back (their guest enabled again if it was disabled), not invited again. */
  returned?: true;
  /** Duplicate: the earlier row of the same person. */
  duplicateOf?: number;
  /** Rejected: why, and what the row held. */
  reasons?: ItemError[];
  submitted?: SubmittedValues;
  /** Why the directory could not say whether the address is already there (the outcome assumes not). */
  directoryNotChecked?: string;
}

export interface PlanSummary {
  rows: number;
  counts: Record<PlanOutcome, number>;
  /** Graph writes the real run would make: an invitation for each person Graph is asked about, and a group add per group. */
  graphWrites: number;
  /** Invitation emails it would send (Graph's, or ours with INVITE_DELIVERY=mail). */
  emails: number;
  /** How long the real run would take at the app's write budget (and the mailbox's, with INVITE_DELIVERY=mail). */
  minutes: number;
  /** The Graph reads this plan took (lookups and the tenant's settings). */
  graphReads: number;
}

export interface InvitationPlan {
  dryRun: true;
  summary: PlanSummary;
  tenant: { guestInvites: GuestInviteCheck; directoryQuota: DirectoryQuotaCheck };
  entries: PlanEntry[];
}

export interface PlannerOptions {
  policy: InvitationPolicy;
  inviteDelivery: 'graph' | 'mail';
  /** QUEUED_STALE_AFTER_SECONDS in ms: a Queued record older than this would be queued again. */
  queuedStaleAfterMs: number;
  /** GRAPH_MAX_WRITES_PER_SECOND. */
  writesPerSecond: number;
  /** MAIL_MAX_PER_MINUTE, with INVITE_DELIVERY=mail. */
  mailPerMinute: number;
}

// Lookups 429'd or failing are asked again, after Graph's Retry-After, this many times in all.
const LOOKUP_ROUNDS = 4;
const MAX_LOOKUP_WAIT_MS = 10_000;
const PARALLEL_BATCHES = 4;
const PARALLEL_RECORD_READS = 16;

type Lookups = { found: Map<string, EmailLookup>; reads: number; notChecked?: string };

export class InvitationPlanner {
  constructor(
    private readonly store: Pick<InvitationStore, 'getById' | 'emailChangesFor'>,
    private readonly directory: Pick<GraphDirectoryClient, 'findByEmails'> | undefined,
    private readonly tenant: TenantSettings | undefined,
    private readonly options: PlannerOptions,
  ) {}

  async plan(submission: { accepted: readonly AcceptedItem[]; rejected: readonly RejectedItem[] }): Promise<InvitationPlan> {
    const now = new Date();
    const screened = screenSubmission(submission, this.options.policy, this.options.inviteDelivery);
    const records = await mapWithConcurrency(screened.candidates, PARALLEL_RECORD_READS, (candidate) =>
      this.store.getById(recordIdForEmail(candidate.email)),
    );
    const emailChanges = await this.store.emailChangesFor(screened.candidates.filter((_, position) => !records[position]));
    const changedFrom = new Map([...emailChanges].map(([, person]) => [person.record.externalId!, person]));
    const unknown = screened.candidates
      .filter((candidate, position) => !records[position] && !changedFrom.has(candidate.invitation.externalId ?? ''))
      .map((candidate) => candidate.email);
    const [lookups, guestInvites] = await Promise.all([this.lookUp(unknown), this.guestInvites()]);

    const firstRowOf = new Map<number, number>();
    const entries: PlanEntry[] = [];
    for (const item of screened.items) {
      const candidate = screened.candidates[item.candidate]!;
      if (item.repeat) {
        entries.push(duplicateEntry(item.index + 1, candidate.email, firstRowOf.get(item.candidate)!));
        continue;
      }
      firstRowOf.set(item.candidate, item.index + 1);
      const stored = records[item.candidate];
      const moving = stored ? undefined : changedFrom.get(candidate.invitation.externalId ?? '');
      entries.push(
        stored
          ? this.pipelineEntry(item.index, stored, candidate.invitation, now)
          : moving
            ? emailChangeEntry(item.index, candidate.email, moving)
            : this.directoryEntry(item.index, candidate.email, candidate.invitation, lookups),
      );
    }
    for (const rejected of screened.rejected) entries.push(rejectedEntry(rejected));
    entries.sort((a, b) => a.row - b.row);

    const toAdd = entries.filter((entry) => entry.outcome === 'Invite').length;
    const directoryQuota = await this.directoryQuota(toAdd);
    const tenantReads = this.tenant ? 2 : 0;
    const summary = this.summaryOf(entries, screened.candidates, lookups.reads + tenantReads);
    return { dryRun: true, summary, tenant: { guestInvites, directoryQuota }, entries };
  }

  /** A person the app has: queued again (a failed one, or one asked for again) or answered as a duplicate. */
  private pipelineEntry(index: number, stored: StoredRecord, invitation: Invitation, now: Date): PlanEntry {
    const { record } = stored;
    const again = shouldQueueAgain(stored, invitation, now, this.options.queuedStaleAfterMs);
    const known = {
      row: index + 1,
      email: record.email,
      outcome: 'AlreadyInPipeline' as const,
      record: { id: record.id, status: record.status },
    };
    const comeBack = again ? undefined : returnOf(stored);
    if (comeBack)
      return {
        ...known,
        returned: true,
        callsGraph: comeBack.reenable,
        realRun: `brings the leaver back as ${comeBack.status}${comeBack.reenable ? ' and enables their guest again' : ' (their guest was not switched off)'}: no invitation, no email`,
      };
    const move = again ? undefined : moveOf(stored, invitation);
    if (move)
      return {
        ...known,
        profileChanged: true,
        callsGraph: true,
        realRun: `writes the changes onto their guest (${[move.profile && 'profile', move.groups && 'groups'].filter(Boolean).join(' and ')}; they are ${record.status}): no invitation, no email`,
      };
    return {
      ...known,
      callsGraph: again,
      realRun: again
        ? `queues the person again (they are ${record.status}) and invites them again${invitation.sendInvitationMessage ? ', with an email' : ''}`
        : `answers as a duplicate (they are ${record.status}): nothing is sent`,
    };
  }

  /** A person the app does not have: what the directory knows of the address. */
  private directoryEntry(index: number, email: string, invitation: Invitation, lookups: Lookups): PlanEntry {
    const row = index + 1;
    const lookup = lookups.found.get(email);
    const emailed = invitation.sendInvitationMessage;
    if (lookup?.kind === 'found' && lookup.user.userType === 'Member')
      // The member's id is not told: a plan says whether an address is taken, not who holds it.
      return {
        row,
        email,
        outcome: 'AlreadyMember',
        callsGraph: true,
        realRun: 'would ask Graph to invite a member of this tenant as a guest: take the row out',
      };
    if (lookup?.kind === 'found')
      return {
        row,
        email,
        outcome: 'AlreadyGuest',
        callsGraph: true,
        guest: { id: lookup.user.id, externalUserState: lookup.user.externalUserState ?? null },
        realRun: emailed
          ? 'sends the existing guest the invitation again (a new email and redemption link); the app never disables or deletes a guest it did not create'
          : 'records the existing guest and sends nothing; the app never disables or deletes a guest it did not create',
      };
    const notChecked =
      lookup?.kind === 'failed'
        ? `Graph answered ${lookup.error.httpStatus ?? ''} ${lookup.error.code}`.replace(/\s+/g, ' ')
        : lookups.notChecked;
    return {
      row,
      email,
      outcome: 'Invite',
      callsGraph: true,
      realRun: `invites a new guest${emailed ? ', with the invitation email' : ', without an email'}${invitation.groups?.length ? ` and adds them to ${invitation.groups.length} group(s)` : ''}`,
      ...(notChecked ? { directoryNotChecked: `Not checked: ${notChecked}.` } : {}),
    };
  }

  /** The addresses looked up, 20 to a batch; a 429'd or failing lookup is asked again after Graph's Retry-After. */
  private async lookUp(emails: readonly string[]): Promise<Lookups> {
    const found = new Map<string, EmailLookup>();
    if (!this.directory) return { found, reads: 0, notChecked: 'the app reads no directory' };
    if (emails.length === 0) return { found, reads: 0 };
    let pending = [...emails];
    let reads = 0;
    for (let round = 0; round < LOOKUP_ROUNDS && pending.length > 0; round += 1) {
      const batches = Array.from({ length: Math.ceil(pending.length / MAX_BATCH_REQUESTS) }, (_, at) =>
        pending.slice(at * MAX_BATCH_REQUESTS, (at + 1) * MAX_BATCH_REQUESTS),
      );
      reads += pending.length;
      const answers = await mapWithConcurrency(batches, PARALLEL_BATCHES, (batch) => this.findAll(batch));
      for (const answer of answers) for (const [email, lookup] of answer) found.set(email, lookup);
      const failed = pending.filter((email) => found.get(email)?.kind === 'failed');
      const denied = failed.map((email) => found.get(email)).find((lookup) => lookup?.kind === 'failed' && deniesReads(lookup.error));
      if (denied)
        return {
          found: new Map([...found].filter(([, lookup]) => lookup.kind !== 'failed')),
          reads,
          notChecked: 'the app may not read users (grant User.Read.All, Application)',
        };
      pending = failed;
      if (pending.length > 0 && round + 1 < LOOKUP_ROUNDS) await sleep(retryWaitMs(pending.map((email) => found.get(email)!)));
    }
    return { found, reads };
  }

  /** One batch; a batch Graph refused as a whole is each address's failure. */
  private async findAll(emails: readonly string[]): Promise<Map<string, EmailLookup>> {
    try {
      return await this.directory!.findByEmails(emails);
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      return new Map(emails.map((email) => [email, { kind: 'failed', error }]));
    }
  }

  private async guestInvites(): Promise<GuestInviteCheck> {
    return this.tenant
      ? this.tenant.guestInvites()
      : { status: 'notChecked', detail: 'Not checked: the app reads no Graph.', permission: 'Policy.Read.All' };
  }

  private async directoryQuota(toAdd: number): Promise<DirectoryQuotaCheck> {
    return this.tenant
      ? this.tenant.directoryQuota(toAdd)
      : { status: 'notChecked', detail: 'Not checked: the app reads no Graph.', permission: 'Organization.Read.All' };
  }

  private summaryOf(
    entries: readonly PlanEntry[],
    candidates: readonly { email: string; invitation: Invitation }[],
    graphReads: number,
  ): PlanSummary {
    const counts = Object.fromEntries(PLAN_OUTCOMES.map((outcome) => [outcome, 0])) as Record<PlanOutcome, number>;
    for (const entry of entries) counts[entry.outcome] += 1;
    const invitationOf = new Map(candidates.map((candidate) => [candidate.email, candidate.invitation]));
    // Every row the real run takes to Graph: a new guest, an existing one, a member's address (Graph is asked), a person queued again.
    const toGraph = entries.filter((entry) => entry.callsGraph);
    // An invitation is one write, each group add and a profile one more; a mover's profile alone is one.
    const costs = toGraph.map((entry) => {
      const invitation = invitationOf.get(entry.email)!;
      if (entry.profileChanged || entry.returned) return { writes: 1, emails: 0 };
      return {
        writes: 1 + (invitation.groups?.length ?? 0) + (invitation.profile ? 1 : 0),
        emails: invitation.sendInvitationMessage ? 1 : 0,
      };
    });
    const graphWrites = costs.reduce((sum, cost) => sum + cost.writes, 0);
    const emails = costs.reduce((sum, cost) => sum + cost.emails, 0);
    const writeMinutes = graphWrites / this.options.writesPerSecond / 60;
    const mailMinutes = this.options.inviteDelivery === 'mail' ? emails / this.options.mailPerMinute : 0;
    return {
      rows: entries.length,
      counts,
      graphWrites,
      emails,
      minutes: Math.ceil(Math.max(writeMinutes, mailMinutes) * 10) / 10,
      graphReads,
    };
  }
}

/** Row `row` names the person of row `firstRow` again: the real run answers it as a duplicate. */
/** A new address for a person the app has by their externalId (a mover): the same guest, redeemed again at it. */
function emailChangeEntry(index: number, email: string, person: StoredRecord): PlanEntry {
  const { record } = person;
  return {
    row: index + 1,
    email,
    outcome: 'AlreadyInPipeline',
    record: { id: record.id, status: record.status },
    emailChangedFrom: record.email,
    callsGraph: true,
    realRun: `a new address for the person with externalId ${record.externalId} (now ${record.email}, ${record.status}): resets the redemption of the same guest at the new address, which keeps its id, groups and access`,
  };
}

export function duplicateEntry(row: number, email: string, firstRow: number): PlanEntry {
  return {
    row,
    email,
    outcome: 'Duplicate',
    duplicateOf: firstRow,
    callsGraph: false,
    realRun: `answers as a duplicate of row ${firstRow}: nothing more is sent`,
  };
}

function rejectedEntry({ index, errors, submitted }: RejectedItem): PlanEntry {
  return {
    row: index + 1,
    email: submitted?.email ?? '',
    outcome: 'Rejected',
    callsGraph: false,
    reasons: errors,
    ...(submitted ? { submitted } : {}),
    realRun: 'rejects the row: nothing is recorded or sent',
  };
}

function deniesReads(error: GraphCallError): boolean {
  return error.httpStatus === 403 || error.kind === 'credential';
}

/** The longest Retry-After among the failed lookups (a second without one), at most MAX_LOOKUP_WAIT_MS. */
function retryWaitMs(failed: readonly EmailLookup[]): number {
  const waits = failed.map((lookup) => (lookup.kind === 'failed' ? (lookup.error.retryAfterMs ?? 1_000) : 0));
  return Math.min(MAX_LOOKUP_WAIT_MS, Math.max(...waits));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
