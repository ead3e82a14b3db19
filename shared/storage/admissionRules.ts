import { FINAL_STATUSES, INVITED_STATUSES, RETRYABLE_STATUSES, type GroupOutcome, type Invitation, type InvitationRecord } from '../core';

/**
 * What a submission of a person the app already has decides (invitationStore.ts admits it under the
 * record's ETag): whether the person is queued again, and what the new submission may change.
 */

export interface KnownPerson {
  record: Pick<InvitationRecord, 'status' | 'queuedAt'> &
    Partial<Pick<InvitationRecord, 'statusBeforeLeaving' | 'leaverAction' | 'removedAt'>>;
  invitation: Invitation;
}

/**
 * The intake rule: a live record answers as a duplicate; a failed one, or one asked for again, is
 * queued again. A leaver whose guest is still there returns (returnOf) rather than being invited again.
 */
export function shouldQueueAgain(existing: KnownPerson, invitation: Invitation, now: Date, staleAfterMs: number): boolean {
  const { status, queuedAt } = existing.record;
  if (status === 'Left') return returnOf(existing) === undefined;
  if (RETRYABLE_STATUSES.has(status)) return true;
  // A record left Queued with no message (the intake failed between the two writes): queue it again.
  if (status === 'Queued' && now.getTime() - Date.parse(queuedAt) > staleAfterMs) return true;
  // Asking on purpose re-invites a finished person; one still in flight will be invited anyway.
  return FINAL_STATUSES.has(status) && invitation.resend;
}

/**
 * What a later submission of a person may not change. The callbackUrl stays the one of the
 * submission that created the person, so no other caller can redirect their events. Once a guest
 * exists, the cc, the groups and the message stay as first submitted: a resend sends the same
 * invitation again, and cannot send someone else's redemption link to a cc of its own choosing or
 * add an existing guest to other groups.
 */
export function keptFromEarlierSubmissions(existing: KnownPerson, submitted: Invitation): Invitation {
  const earlier = existing.invitation;
  const { callbackUrl: _callback, ...changeable } = submitted;
  const callback = earlier.callbackUrl ? { callbackUrl: earlier.callbackUrl } : {};
  if (!INVITED_STATUSES.has(existing.record.status)) return { ...changeable, ...callback };
  const { groups: _groups, invitedUserMessageInfo: _message, messageTemplate: _template, ...rest } = changeable;
  return {
    ...rest,
    ...callback,
    ...(earlier.groups ? { groups: earlier.groups } : {}),
    ...(earlier.invitedUserMessageInfo ? { invitedUserMessageInfo: earlier.invitedUserMessageInfo } : {}),
    ...(earlier.messageTemplate ? { messageTemplate: earlier.messageTemplate } : {}),
  };
}

/** A leaver coming back: the status they return to, and whether their guest (disabled when they left) is enabled again. */
export interface Return {
  status: 'Invited' | 'Accepted';
  reenable: boolean;
}

/**
 * The return rule: a leaver submitted again whose guest is still there (disabled, reported, or
 * still in its grace) returns to what they were, never re-invited; their guest is enabled again if
 * it was disabled. One whose guest is gone (deleted) or who never had one is invited again.
 */
export function returnOf(existing: KnownPerson): Return | undefined {
  const { status, statusBeforeLeaving, leaverAction, removedAt } = existing.record;
  if (status !== 'Left' || leaverAction === 'deleted' || removedAt) return undefined;
  if (statusBeforeLeaving !== 'Invited' && statusBeforeLeaving !== 'Accepted') return undefined;
  return { status: statusBeforeLeaving, reenable: leaverAction === 'disabled' };
}

/** A person whose guest exists and is live: a changed profile or groups follow them (a mover). */
const MOVABLE_STATUSES: ReadonlySet<string> = new Set(['Invited', 'Accepted']);

/** What a mover's submission changes: the profile merged with the new values, the groups now named. */
export interface Move {
  profile?: Invitation['profile'];
  groups?: string[];
}

/**
 * The mover rule: a person the app has invited, submitted again (as HR sends a change) with a
 * profile that differs from the one kept, or naming other groups, keeps their guest: the changes
 * are written onto it, with no new invitation and no email. Undefined when nothing changed (or
 * the person is not live).
 */
export function moveOf(existing: KnownPerson, submitted: Invitation): Move | undefined {
  if (!MOVABLE_STATUSES.has(existing.record.status)) return undefined;
  const kept = existing.invitation.profile ?? {};
  const profileChanged =
    submitted.profile !== undefined &&
    Object.entries(submitted.profile).some(([field, value]) => value !== undefined && kept[field as keyof typeof kept] !== value);
  const before = new Set((existing.invitation.groups ?? []).map((id) => id.toLowerCase()));
  const after = new Set((submitted.groups ?? []).map((id) => id.toLowerCase()));
  // Only a submission that names groups changes them: one that names none leaves them as they are.
  const groupsChanged = submitted.groups !== undefined && (before.size !== after.size || [...after].some((id) => !before.has(id)));
  if (!profileChanged && !groupsChanged) return undefined;
  return {
    ...(profileChanged ? { profile: { ...kept, ...submitted.profile } } : {}),
    ...(groupsChanged ? { groups: submitted.groups! } : {}),
  };
}

/**
 * A mover's groups: each group now named keeps its outcome if it was added (or being added), and is
 * added otherwise; each group no longer named is removed only if this app added the person to it
 * (a membership the app did not make is not the app's to undo).
 */
export function movedGroups(before: readonly GroupOutcome[], named: readonly string[]): GroupOutcome[] {
  const wanted = new Set(named.map((id) => id.toLowerCase()));
  const kept = named.map((id): GroupOutcome => {
    const earlier = before.find((group) => group.id.toLowerCase() === id.toLowerCase());
    return earlier && ['Pending', 'Added', 'AlreadyMember'].includes(earlier.status) ? earlier : { id, status: 'Pending' };
  });
  const leaving = before
    .filter((group) => !wanted.has(group.id.toLowerCase()) && (group.status === 'Added' || group.status === 'Removing'))
    .map((group): GroupOutcome => ({ id: group.id, status: 'Removing' }));
  return [...kept, ...leaving];
}
