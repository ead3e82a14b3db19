/**
 * Microsoft Graph and Entra: the app's credential, the invitations and directory clients, Graph's
 * errors as one type, the adaptive pacer and the instances' shares of the write budget, the read
 * budget, the sign-in circuit, the tenant's and the operator's pause, and the sender that holds it
 * together for one invitation.
 */

export { CredentialCircuit, type CredentialState } from './credentialCircuit';
export { GraphCallError, mayHaveActed } from './graphCallError';
export { graphCaller, graphEndpoints } from './graphCaller';
export {
  GraphDirectoryClient,
  MAX_BATCH_REQUESTS,
  type EmailLookup,
  type Guest,
  type GuestRead,
  type WriteAnswer,
} from './graphDirectoryClient';
export { GraphInvitationsClient } from './graphInvitationsClient';
export { GraphPacer, WaitBeyondDeadlineError } from './graphPacer';
export { GuestLookup } from './guestLookup';
export { InvitationSender, type SendOutcome } from './invitationSender';
export { TenantSettings, quotaCheck, type DirectoryQuotaCheck, type GuestInviteCheck } from './tenantSettings';
export { pacedWrite } from './pacedWrite';
export { RateShares } from './rateShares';
export { ReadBudget } from './readBudget';
export { SendingPause, type PauseState } from './sendingPause';
