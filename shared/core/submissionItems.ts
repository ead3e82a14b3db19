import type { Invitation } from './invitation';

/**
 * The items of a submission as validation leaves them (intake/submission.ts): each accepted with
 * its invitation or rejected with its reasons, by its position in the body (and its line in a CSV).
 * The batch ledger and every results file keep the rejected ones as they are, with what they held.
 */

// What is kept of a rejected row's values: enough to recognise and fix it, never a whole body.
const MAX_SUBMITTED_CHARACTERS = 500;

/**
 * What a rejected row held, so that its line in a results file can be fixed without the original
 * file (the portal's results do the same): the address and name as submitted, and for a CSV the
 * row's cells as the file had them. Each is cut to MAX_SUBMITTED_CHARACTERS.
 */
export interface SubmittedValues {
  email?: string;
  displayName?: string;
  /** For CSV: the row as the file had it (its cells, comma-separated and quoted as CSV quotes them). */
  raw?: string;
}

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
  /** For CSV: the row as the file had it. */
  raw?: string;
}
export interface RejectedItem {
  index: number;
  /** For CSV: the line of the file where the row starts. */
  line?: number;
  errors: ItemError[];
  submitted?: SubmittedValues;
}

/** The values of a row as submitted (any shape: it may be what failed validation), bounded. */
export function submittedValuesOf(value: unknown, raw?: string): SubmittedValues | undefined {
  const fields = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const text = (field: unknown) => (typeof field === 'string' && field !== '' ? field.slice(0, MAX_SUBMITTED_CHARACTERS) : undefined);
  const email = text(fields.invitedUserEmailAddress);
  const displayName = text(fields.invitedUserDisplayName);
  const line = text(raw);
  if (email === undefined && displayName === undefined && line === undefined) return undefined;
  return {
    ...(email !== undefined ? { email } : {}),
    ...(displayName !== undefined ? { displayName } : {}),
    ...(line !== undefined ? { raw: line } : {}),
  };
}
