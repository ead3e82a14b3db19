import { createHash, randomUUID } from 'node:crypto';
import type { Invitation } from '../core';
import { wordsFor } from './emailTemplates';

/**
 * Our own invitation email (INVITE_DELIVERY=mail): the words of emailTemplates.ts in an HTML and a
 * plain-text layout, with the person's name, the custom message, the redemption URL and the
 * branding. Every inserted value is escaped for where it goes; the whole is one MIME message
 * (multipart/alternative), which Graph's sendMail takes base64-encoded.
 */

export interface Branding {
  /** INVITE_BRAND_NAME: the organisation that invites. */
  organization: string;
  /** INVITE_BRAND_LOGO_URL (https). */
  logoUrl?: string;
  /** INVITE_BRAND_COLOR (#rrggbb). */
  color?: string;
}

export interface InvitationEmail {
  language: string;
  subject: string;
  html: string;
  text: string;
  /** The invitee alone: the email holds the redemption link, a credential (a cc is never sent it). */
  to: { address: string; name?: string };
}

const DEFAULT_COLOR = '#0f6cbd';

export function renderInvitationEmail(invitation: Invitation, redeemUrl: string, branding: Branding): InvitationEmail {
  const { language, words } = wordsFor(invitation.invitedUserMessageInfo?.messageLanguage);
  const organization = branding.organization;
  const name = invitation.invitedUserDisplayName;
  const message = invitation.invitedUserMessageInfo?.customizedMessageBody;
  const color = branding.color && /^#[0-9a-fA-F]{6}$/.test(branding.color) ? branding.color : DEFAULT_COLOR;
  const e = escapeHtml;
  const html = `<!DOCTYPE html>
<html lang="${e(language)}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${e(words.subject(organization))}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;font-family:Segoe UI,Helvetica,Arial,sans-serif;color:#111827">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;padding:24px 0">
<tr><td align="center">
<table role="presentation" width="560" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-top:6px solid ${color};border-radius:6px">
<tr><td style="padding:24px 32px 8px">${
    branding.logoUrl
      ? `<img src="${e(branding.logoUrl)}" alt="${e(organization)}" height="40" style="height:40px;display:block">`
      : `<strong style="font-size:20px">${e(organization)}</strong>`
  }</td></tr>
<tr><td style="padding:8px 32px;font-size:16px;line-height:1.5">
<p>${e(words.greeting(name))}</p>
<p>${e(words.intro(organization))}</p>${
    message
      ? `
<p style="margin-bottom:4px"><strong>${e(words.messageHeading(organization))}</strong></p>
<blockquote style="margin:0 0 16px;padding:8px 16px;border-left:4px solid ${color};background:#f9fafb">${e(message).replace(/\r?\n/g, '<br>')}</blockquote>`
      : ''
  }
<p style="margin:24px 0"><a href="${e(redeemUrl)}" style="background:${color};color:#ffffff;padding:12px 20px;border-radius:4px;text-decoration:none;font-weight:600;display:inline-block">${e(words.button)}</a></p>
<p style="font-size:13px;color:#4b5563">${e(words.linkHint)}<br><a href="${e(redeemUrl)}" style="color:${color};word-break:break-all">${e(redeemUrl)}</a></p>
</td></tr>
<tr><td style="padding:16px 32px 24px;font-size:12px;color:#6b7280">${e(words.footer(organization))}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
`;
  const text = [
    words.greeting(name),
    '',
    words.intro(organization),
    ...(message ? ['', words.messageHeading(organization), ...message.split(/\r?\n/).map((line) => `> ${line}`)] : []),
    '',
    `${words.button}: ${redeemUrl}`,
    '',
    '--',
    words.footer(organization),
    '',
  ].join('\r\n');
  return {
    language,
    subject: words.subject(organization),
    html,
    text,
    to: { address: invitation.invitedUserEmailAddress, ...(name ? { name } : {}) },
  };
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/**
 * The email as a MIME message (RFC 2045–2047): headers in encoded words, both bodies base64 in
 * UTF-8, so no value can break a header or a boundary. Graph adds From (the sending mailbox).
 */
/**
 * The Message-ID of one email: the same for every try of it (a retry, a redelivery after a crash),
 * so the sender's Sent Items say whether it went out; another for the next email (a reminder, a
 * reset, an operator's resend). `attempt` names the invitation attempt that made the email due.
 */
export function invitationMessageId(recordId: string, attempt: string, resends: number, sender: string): string {
  const hash = createHash('sha256').update(`${recordId}\n${attempt}\n${resends}`, 'utf8').digest('hex').slice(0, 24);
  const domain = sender.split('@')[1] ?? 'entra-invite-pipeline.invalid';
  return `<invitation.${hash}@${domain}>`;
}

export function toMimeMessage(email: InvitationEmail, messageId?: string): string {
  const boundary = `=_invitation_${randomUUID()}`;
  const base64Lines = (content: string) => Buffer.from(content, 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  const address = ({ address, name }: { address: string; name?: string }) => (name ? `${encodedWord(name)} <${address}>` : `<${address}>`);
  return [
    ...(messageId ? [`Message-ID: ${messageId}`] : []),
    `To: ${address(email.to)}`,
    `Subject: ${encodedWord(email.subject)}`,
    `Content-Language: ${email.language}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(email.text),
    `--${boundary}`,
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(email.html),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

/** An RFC 2047 encoded word: any text, newlines and all, safe in a header. */
function encodedWord(text: string): string {
  return `=?utf-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}
