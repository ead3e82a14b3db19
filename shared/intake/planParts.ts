import { quotaCheck } from '../graph';
import { duplicateEntry, PLAN_OUTCOMES, type InvitationPlan, type PlanEntry, type PlanOutcome } from './invitationPlanner';

/**
 * The plan of a whole file from the plans of its parts (the CLI's requests of at most 1,000 rows, a
 * roster's chunks): rows numbered in the file (each part's rows from `start` on), a person named
 * in two parts a duplicate of their first row, a rejected row with the line as the file has it
 * (`rawOfRow`, from 1), the tenant's quota against the whole file's new guests, the totals summed.
 */
export function combinePlans(
  parts: readonly { start: number; plan: InvitationPlan }[],
  rawOfRow: (row: number) => string | undefined = () => undefined,
): InvitationPlan {
  const firstRowOf = new Map<string, number>();
  const entries: PlanEntry[] = [];
  for (const { start, plan } of parts) {
    for (const entry of plan.entries) {
      const row = entry.row + start;
      const raw = rawOfRow(row);
      const earlier = entry.email && entry.outcome !== 'Rejected' ? firstRowOf.get(entry.email) : undefined;
      if (earlier !== undefined && entry.outcome !== 'Duplicate') {
        entries.push(duplicateEntry(row, entry.email, earlier));
        continue;
      }
      if (entry.outcome === 'Duplicate') {
        entries.push(duplicateEntry(row, entry.email, entry.duplicateOf! + start));
        continue;
      }
      if (entry.email && entry.outcome !== 'Rejected') firstRowOf.set(entry.email, row);
      const submitted = entry.outcome === 'Rejected' && raw ? { submitted: { ...entry.submitted, raw } } : {};
      entries.push({ ...entry, row, ...submitted });
    }
  }
  const counts = Object.fromEntries(PLAN_OUTCOMES.map((outcome) => [outcome, 0])) as Record<PlanOutcome, number>;
  for (const entry of entries) counts[entry.outcome] += 1;
  const sum = (pick: (plan: InvitationPlan) => number) => parts.reduce((total, part) => total + pick(part.plan), 0);
  const first = parts[0]!.plan;
  const quota = first.tenant.directoryQuota;
  const toAdd = counts.Invite;
  const directoryQuota = quota.status === 'notChecked' ? quota : quotaCheck(quota.used, quota.total, toAdd);
  return {
    dryRun: true,
    summary: {
      rows: entries.length,
      counts,
      graphWrites: sum((plan) => plan.summary.graphWrites) - removedWrites(parts, entries),
      emails: sum((plan) => plan.summary.emails),
      minutes: Math.round(sum((plan) => plan.summary.minutes) * 10) / 10,
      graphReads: sum((plan) => plan.summary.graphReads),
    },
    tenant: { guestInvites: first.tenant.guestInvites, directoryQuota },
    entries,
  };
}

/** Writes counted by a request for a row that, across the whole file, is a duplicate. */
function removedWrites(parts: readonly { start: number; plan: InvitationPlan }[], entries: readonly PlanEntry[]): number {
  const wasCalling = new Set(
    parts.flatMap(({ start, plan }) => plan.entries.filter((entry) => entry.callsGraph).map((entry) => entry.row + start)),
  );
  return entries.filter((entry) => !entry.callsGraph && wasCalling.has(entry.row)).length;
}
