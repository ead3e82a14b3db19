import { GraphCallError, WaitBeyondDeadlineError, type GraphDirectoryClient, type GraphPacer, pacedWrite } from '../graph';
import type { ExpiredAction } from '../core';
import type { RecordEntity } from '../storage';

/**
 * What the app may do to a guest it created, for expiry (redemptionTracker.ts) and for leavers
 * (leavers.ts) alike: disable or delete it in its turn of the write budget, and, when Graph
 * refuses, keep the refusal on that person's record and try again later with a backoff.
 */

export type GuestAction = Exclude<ExpiredAction, 'reported'>;

/** What an operator's setting (EXPIRED_ACTION, LEAVER_ACTION) says, as the record keeps it. */
export const ACTION_DONE: Record<'report' | 'disable' | 'delete', ExpiredAction> = {
  report: 'reported',
  disable: 'disabled',
  delete: 'deleted',
};

// A refused disable or delete is tried again after an hour, then two, four… at most a day.
const ACTION_FIRST_BACKOFF_MS = 60 * 60_000;
const ACTION_MAX_BACKOFF_MS = 24 * 60 * 60_000;

/** Disables or deletes the guest in its turn of the write budget (a 429 slows every writer); a guest already gone counts as deleted. */
export async function actOnGuest(
  directory: Pick<GraphDirectoryClient, 'disable' | 'delete'>,
  writePacer: GraphPacer,
  action: GuestAction,
  userId: string,
  deadline: number,
): Promise<void> {
  try {
    await pacedWrite(writePacer, deadline, () => (action === 'disabled' ? directory.disable(userId) : directory.delete(userId)));
  } catch (error) {
    if (action === 'deleted' && error instanceof GraphCallError && error.httpStatus === 404) return;
    throw error;
  }
}

/** The failure of an action that is the person's alone (Graph refused it, or the budget had no room): undefined for anything else. */
export function actionRefusal(error: unknown): GraphCallError | WaitBeyondDeadlineError | undefined {
  return error instanceof GraphCallError || error instanceof WaitBeyondDeadlineError ? error : undefined;
}

/** The record's note of a refused action: its reason, how often in a row, and when it is tried again. */
export function refusedActionFields(
  entity: Pick<RecordEntity, 'actionFailures'>,
  failure: GraphCallError | WaitBeyondDeadlineError,
  now: Date,
): Pick<RecordEntity, 'actionError' | 'actionFailures' | 'actionRetryAt'> {
  const failures = (entity.actionFailures ?? 0) + 1;
  const reason =
    failure instanceof GraphCallError ? `${failure.code}: ${failure.message}`.slice(0, 500) : 'the write budget had no room in this run';
  const retryAt = new Date(now.getTime() + Math.min(ACTION_MAX_BACKOFF_MS, ACTION_FIRST_BACKOFF_MS * 2 ** (failures - 1)));
  return { actionError: reason, actionFailures: failures, actionRetryAt: retryAt.toISOString() };
}

/** Whether a refused action waits for its retry time still. */
export function actionWaits(entity: Pick<RecordEntity, 'actionRetryAt'>, now: Date): boolean {
  return Date.parse(entity.actionRetryAt ?? '') > now.getTime();
}

export const NO_ACTION_REFUSAL = { actionError: undefined, actionFailures: undefined, actionRetryAt: undefined };
