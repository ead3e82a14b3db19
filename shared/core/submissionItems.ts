import type { Invitation } from './invitation';

/**
 * The items of a submission as validation leaves them (intake/submission.ts): each accepted with
 * its invitation or rejected with its reasons, by its position in the body (and its line in a CSV).
 * The batch ledger and every results file keep the rejected ones as they are.
 */

export interface ItemError {
  path: string;
  message: string;
}
export interface AcceptedItem {
  index: number;
  line?: number;
  /** Prefix of the item's error paths: `invitations[3].` in a batch, '' otherwise. */
  pathPrefix: string;
  invitation: Invitation;
}
export interface RejectedItem {
  index: number;
  /** For CSV: the line of the file where the row starts. */
  line?: number;
  errors: ItemError[];
}
