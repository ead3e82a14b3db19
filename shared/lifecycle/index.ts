/**
 * After the invitation: the redemption tracker (accepted, reminders, expiry), which guests this
 * app owns, leavers, an operator's redemption reset, and the events told to callers (CloudEvents, signed,
 * to addresses checked at delivery).
 */

export { EventOutbox } from './eventOutbox';
export { ExpiryPolicyMemory } from './expiryPolicyMemory';
export { isOwnGuest, readOwnGuest } from './guestOwnership';
export { EVENTS_QUEUE, InvitationEvents } from './invitationEvents';
export { type LeaverActed, type LeaverAnswer, Leavers, type LeaverPolicy } from './leavers';
export { RedemptionReset } from './redemptionReset';
export { RedemptionTracker } from './redemptionTracker';
