import { maskEmailAddress, toGraphInvitationRequest } from '../core';
import type { InvitationMessage } from '../storage';
import type { Claim } from './invitationClaims';

/**
 * Why this claimed person is sent: a first invitation; a reminder (Graph's invitation sent again
 * to the existing guest, with its email this time); or a reset of the redemption of the guest this
 * app created, the same user object redeemed again (an operator's, lifecycle/redemptionReset.ts, or
 * a mover's new address, storage/invitationStore.ts changeEmail). A reminder and a reset never
 * create anyone, so they are never looked up first.
 */
export type Purpose = 'invitation' | 'reminder' | 'reset';

/** One claimed person on their way through one invocation of the worker (invitationWorker.ts). */
export interface ClaimedInvitation {
  message: InvitationMessage;
  claim: Claim;
  purpose: Purpose;
  /** With INVITE_DELIVERY=mail Graph sends nothing, and we send ours once it has answered. */
  emailWanted: boolean;
  /** The id and masked email, for the log. */
  who: string;
  /** A reset's guest: the one established as the app's own, or the one Graph's invitation answered with (checked before the reset). */
  resetGuestId?: string;
  started: number;
  elapsed(): string;
}

export function claimedInvitation(message: InvitationMessage, claim: Claim, started: number): ClaimedInvitation {
  const { record, entity } = claim.stored;
  const reminder = entity.reminderDue === true;
  // A reset outranks a reminder due at the same time: its new invitation is the reminder too.
  const resetGuestId = record.ownedUserId ?? record.invitedUserId;
  const reset = entity.resetRedemptionDue === true && resetGuestId !== undefined;
  const purpose: Purpose = reset ? 'reset' : reminder ? 'reminder' : 'invitation';
  return {
    message,
    claim,
    purpose,
    emailWanted: reminder || toGraphInvitationRequest(claim.stored.invitation).sendInvitationMessage,
    who: `${record.id} (${maskEmailAddress(record.email)})`,
    ...(reset ? { resetGuestId } : {}),
    started,
    elapsed: () => `${Date.now() - started} ms`,
  };
}
