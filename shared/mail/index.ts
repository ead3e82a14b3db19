/** Our own invitation email (INVITE_DELIVERY=mail): its words, its HTML and text, the MIME message, the mailbox's budget. */

export { invitationMessageId, renderInvitationEmail, toMimeMessage, type Branding } from './invitationEmail';
export { MailboxBudget } from './mailboxBudget';
