import { isAllowedHost, type Invitation, type ItemError } from '../core';
import { callbackHostProblem, domainPolicyProblem, type DomainPolicy } from './domainPolicy';

/**
 * What a caller may ask of the app, as the operator's settings grant it. Holding a key lets a
 * caller submit people; every further power (a group, a Member, a cc, its own words in the mail,
 * where the guest lands, where events go) is the operator's to grant, and is refused otherwise
 * with a sentence naming the setting. The intake applies it to every item, CSV row, roster row
 * and redrive, with the settings of that moment. docs/security.md lists each power.
 */
export interface InvitationPolicy {
  domains: DomainPolicy;
  /** INVITE_ALLOWED_GROUPS (lower-cased ids): the groups a caller may name; none when empty. */
  allowedGroups: readonly string[];
  /** INVITE_ALLOW_MEMBER_TYPE: `invitedUserType: "Member"` creates users with a member's directory permissions. */
  allowMemberType: boolean;
  /** INVITE_ALLOW_CC: a cc recipient gets the invitation email, redemption link included (Graph's own email). */
  allowCc: boolean;
  /** INVITE_ALLOW_PROFILE: the app writes the caller's `profile` onto the guest (User.ReadWrite.All). */
  allowProfile?: boolean;
  /** INVITE_ALLOW_CUSTOM_MESSAGE: a caller's own words, sent in the organisation's name (INVITE_DELIVERY=mail). */
  allowCustomMessage: boolean;
  /** INVITE_ALLOWED_REDIRECT_HOSTS: where a guest may land after redeeming; any https host when empty. */
  allowedRedirectHosts: readonly string[];
  /** INVITE_MESSAGE_TEMPLATES: operator-written messages callers name. */
  messageTemplates: Readonly<Record<string, string>>;
  /** CALLBACK_ALLOWED_HOSTS. */
  callbackAllowedHosts: readonly string[];
}

export type PolicyVerdict = { invitation: Invitation; errors?: undefined } | { errors: ItemError[] };

/**
 * The invitation as the app will keep it (a named template resolved into its text), or every way
 * it goes beyond what the operator granted, with paths relative to the item.
 */
export function applyInvitationPolicy(invitation: Invitation, policy: InvitationPolicy): PolicyVerdict {
  const errors: ItemError[] = [];
  const refuse = (path: string, message: string) => errors.push({ path, message });
  const messageInfo = invitation.invitedUserMessageInfo;

  // The policy covers every address the invitation email (with its redemption link) goes to.
  const recipients = [
    { path: 'invitedUserEmailAddress', address: invitation.invitedUserEmailAddress },
    ...(messageInfo?.ccRecipients ?? []).map((cc, i) => ({
      path: `invitedUserMessageInfo.ccRecipients[${i}].emailAddress.address`,
      address: cc.emailAddress.address,
    })),
  ];
  for (const { path, address } of recipients) {
    const problem = domainPolicyProblem(address, policy.domains);
    if (problem) refuse(path, problem);
  }

  for (const [i, group] of (invitation.groups ?? []).entries()) {
    if (policy.allowedGroups.includes(group.toLowerCase())) continue;
    refuse(
      `groups[${i}]`,
      policy.allowedGroups.length === 0
        ? 'is not allowed: callers may name no group (the operator has not set INVITE_ALLOWED_GROUPS)'
        : 'is not a group callers may name (INVITE_ALLOWED_GROUPS)',
    );
  }
  if (invitation.invitedUserType === 'Member' && !policy.allowMemberType) {
    refuse(
      'invitedUserType',
      'may not be "Member": a Member has member-level directory permissions, and only INVITE_ALLOW_MEMBER_TYPE=true lets callers ask for one',
    );
  }
  if (invitation.profile && !policy.allowProfile) {
    refuse(
      'profile',
      'is not allowed: the app writes a profile onto the guest with User.ReadWrite.All, and only INVITE_ALLOW_PROFILE=true lets callers send one',
    );
  }
  if (messageInfo?.ccRecipients && !policy.allowCc) {
    refuse(
      'invitedUserMessageInfo.ccRecipients',
      'is not allowed: a cc recipient receives the redemption link, and only INVITE_ALLOW_CC=true lets callers name one',
    );
  }
  // A named template is the message: its text replaces whatever body the item carries (a stored
  // invitation, redriven, carries the text it was given, and the template's text of now replaces it).
  const template = invitation.messageTemplate === undefined ? undefined : templateText(policy, invitation.messageTemplate);
  if (invitation.messageTemplate !== undefined && template === undefined) {
    refuse('messageTemplate', 'is not a message template the operator wrote (INVITE_MESSAGE_TEMPLATES)');
  } else if (invitation.messageTemplate === undefined && messageInfo?.customizedMessageBody !== undefined && !policy.allowCustomMessage) {
    refuse(
      'invitedUserMessageInfo.customizedMessageBody',
      'is not allowed: the email speaks in the organisation’s name, so callers name an operator-written messageTemplate (INVITE_MESSAGE_TEMPLATES), unless INVITE_ALLOW_CUSTOM_MESSAGE=true',
    );
  }
  if (policy.allowedRedirectHosts.length > 0 && !isAllowedHost(new URL(invitation.inviteRedirectUrl), policy.allowedRedirectHosts)) {
    refuse('inviteRedirectUrl', `names a host not in INVITE_ALLOWED_REDIRECT_HOSTS (${policy.allowedRedirectHosts.join(', ')})`);
  }
  const callbackProblem = invitation.callbackUrl && callbackHostProblem(invitation.callbackUrl, policy.callbackAllowedHosts);
  if (callbackProblem) refuse('callbackUrl', callbackProblem);

  if (errors.length > 0) return { errors };
  if (template === undefined) return { invitation };
  return { invitation: { ...invitation, invitedUserMessageInfo: { ...messageInfo, customizedMessageBody: template } } };
}

function templateText(policy: InvitationPolicy, name: string): string | undefined {
  return Object.hasOwn(policy.messageTemplates, name) ? policy.messageTemplates[name] : undefined;
}
