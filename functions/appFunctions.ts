import type { FunctionDefinition } from './runtime/defineFunction';
import { submitInvitations } from './submitInvitations';
import { getInvitation } from './getInvitation';
import { findInvitations } from './findInvitations';
import { getBatch } from './getBatch';
import { getDashboard } from './getDashboard';
import { listBatches } from './listBatches';
import { redriveBatch } from './redriveBatch';
import { processInvitation } from './processInvitation';
import { recordDeadLetter } from './recordDeadLetter';
import { partnerOnboarding } from './partnerOnboarding';
import { requeueStrandedInvitations } from './requeueStrandedInvitations';
import { getHealth } from './getHealth';
import { getRedeemUrl } from './getRedeemUrl';
import { trackRedemptions } from './trackRedemptions';
import { deliverInvitationEvent } from './deliverInvitationEvent';
import { runLifecycle } from './runLifecycle';
import { listExpired } from './listExpired';
import { resetRedemption } from './resetRedemption';
import { pauseSending } from './pauseSending';
import { markLeaver } from './markLeaver';
import { markLeaversByExternalId } from './markLeaversByExternalId';
import { resendEmail } from './resendEmail';
import { relayInvitationEvents } from './relayInvitationEvents';

/** Every function of the app, in one list: the Functions host registers them, the local host serves them. */
export const appFunctions: FunctionDefinition[] = [
  submitInvitations,
  getInvitation,
  findInvitations,
  getBatch,
  getDashboard,
  listBatches,
  redriveBatch,
  processInvitation,
  recordDeadLetter,
  partnerOnboarding,
  requeueStrandedInvitations,
  getHealth,
  getRedeemUrl,
  trackRedemptions,
  deliverInvitationEvent,
  runLifecycle,
  listExpired,
  resetRedemption,
  pauseSending,
  markLeaver,
  markLeaversByExternalId,
  resendEmail,
  relayInvitationEvents,
];
