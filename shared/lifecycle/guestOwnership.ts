import { GraphCallError, type GraphDirectoryClient, type Guest } from '../graph';
import type { InvitationRecord } from '../core';

/**
 * Whether a user in the directory is the guest this app's own invitation created for the person:
 * the only user the app may disable, delete or reset. Graph answers an invitation of an address
 * that already has a user with that user (an admin's guest, a member), so "the id Graph returned"
 * is not enough: the user must be a Guest created by an invitation no earlier than the attempt
 * that got it (the attempt's queuing, with a little clock skew), or the one established as ours
 * before (`ownedUserId`, kept across attempts).
 */

// Graph's clock and ours: an admin's guest created more than this before our attempt is never taken for ours.
const CLOCK_SKEW_MS = 2 * 60_000;

export type OwnershipEvidence = Pick<InvitationRecord, 'ownedUserId' | 'invitedUserId' | 'attemptQueuedAt' | 'queuedAt'>;

export function isOwnGuest(guest: Guest, record: OwnershipEvidence): boolean {
  if (guest.userType !== 'Guest') return false;
  if (guest.creationType !== undefined && guest.creationType !== null && guest.creationType !== 'Invitation') return false;
  if (record.ownedUserId === guest.id) return true;
  // The user our invitation answered with (or, when its answer was lost, the one found by the person's email).
  if (record.invitedUserId !== undefined && record.invitedUserId !== guest.id) return false;
  const created = guest.createdDateTime ? Date.parse(guest.createdDateTime) : Number.NaN;
  // Records from before attemptQueuedAt existed: the attempt's queuing is the same time, or later (safe).
  const attempt = Date.parse(record.attemptQueuedAt ?? record.queuedAt);
  return Number.isFinite(created) && Number.isFinite(attempt) && created >= attempt - CLOCK_SKEW_MS;
}

/** One user read and judged: the app's own guest, another user, none, or Graph could not say. */
export type OwnGuestRead =
  { kind: 'own'; guest: Guest } | { kind: 'not-own'; guest: Guest } | { kind: 'gone' } | { kind: 'failed'; error: GraphCallError };

/**
 * Reads the user a record names and says whether it is the guest this app created: what a reset,
 * a leaver's action and a mover's new address each ask before acting on a user.
 */
export async function readOwnGuest(
  directory: Pick<GraphDirectoryClient, 'readGuests'>,
  userId: string,
  record: OwnershipEvidence,
): Promise<OwnGuestRead> {
  let read;
  try {
    read = (await directory.readGuests([userId])).get(userId);
  } catch (error) {
    if (error instanceof GraphCallError) return { kind: 'failed', error };
    throw error;
  }
  if (read?.kind === 'failed') return read;
  if (!read || read.kind === 'deleted') return { kind: 'gone' };
  return { kind: isOwnGuest(read.guest, record) ? 'own' : 'not-own', guest: read.guest };
}
