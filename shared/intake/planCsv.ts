import { stringifyForSpreadsheets } from '../batches';
import type { InvitationPlan } from './invitationPlanner';

/** A plan as a spreadsheet: one line per row submitted, in its order, every cell escaped as every results file's is. */
export const PLAN_CSV_COLUMNS = [
  'row',
  'email',
  'outcome',
  'realRun',
  'callsGraph',
  'guestId',
  'externalUserState',
  'recordId',
  'recordStatus',
  'duplicateOf',
  'reasons',
  'displayName',
  'submitted',
  'directoryNotChecked',
] as const;

export function planCsv(plan: InvitationPlan, firstRow = 1): string {
  const rows = plan.entries.map((entry) => ({
    row: entry.row + firstRow - 1,
    email: entry.email,
    outcome: entry.outcome,
    realRun: entry.realRun,
    callsGraph: entry.callsGraph,
    guestId: entry.guest?.id ?? '',
    externalUserState: entry.guest?.externalUserState ?? '',
    recordId: entry.record?.id ?? '',
    recordStatus: entry.record?.status ?? '',
    duplicateOf: entry.duplicateOf !== undefined ? entry.duplicateOf + firstRow - 1 : '',
    reasons: (entry.reasons ?? []).map((reason) => `${reason.path}: ${reason.message}`).join('; '),
    displayName: entry.submitted?.displayName ?? '',
    submitted: entry.submitted?.raw ?? '',
    directoryNotChecked: entry.directoryNotChecked ?? '',
  }));
  return stringifyForSpreadsheets(rows, { header: true, columns: [...PLAN_CSV_COLUMNS] });
}
