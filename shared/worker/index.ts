/** The queue's consumer: a claim on a person, the Graph call, the outcome, the follow-up (email, groups), the sweep for stranded people. */

export { InvitationClaims } from './invitationClaims';
export { InvitationFollowUp } from './invitationFollowUp';
export { InvitationWorker } from './invitationWorker';
export { SponsorCheck } from './sponsorCheck';
export { StrandedInvitationSweeper } from './strandedInvitationSweeper';
export { EmailResend } from './emailResend';
