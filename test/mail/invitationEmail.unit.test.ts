import { describe, expect, it } from 'vitest';
import { invitationSchema } from '../../shared/core/invitation';
import { renderInvitationEmail, toMimeMessage } from '../../shared/mail/invitationEmail';
import { EMAIL_WORDS } from '../../shared/mail/emailTemplates';

const REDEEM = 'https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem%2f%3fticket%3dabc&x="1"';
const hostile = '"><img src=x onerror=alert(1)>&<script>';

const invitation = (extra: Record<string, unknown> = {}) =>
  invitationSchema.parse({ invitedUserEmailAddress: 'ada@fabrikam.com', inviteRedirectUrl: 'https://myapps.microsoft.com', ...extra });

describe('our invitation email', () => {
  it('escapes every value it inserts: name, message, organisation, logo and link', () => {
    const email = renderInvitationEmail(
      invitation({ invitedUserDisplayName: hostile, invitedUserMessageInfo: { customizedMessageBody: `${hostile}\nline two` } }),
      REDEEM,
      { organization: hostile, logoUrl: `https://contoso.com/logo.png?${hostile}`, color: '#123456' },
    );
    expect(email.html).not.toContain('<img src=x');
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain('&#34;&#62;&#60;img src=x onerror=alert(1)&#62;&#38;&#60;script&#62;');
    expect(email.html).toContain(`href="${REDEEM.replace(/&/g, '&#38;').replace(/"/g, '&#34;')}"`);
    expect(email.html).toContain('<br>line two');
    expect(email.text).toContain(REDEEM); // the text version is not HTML: the link as it is
  });

  it('speaks the messageLanguage, the same language in another region, or en-US', () => {
    const subject = (messageLanguage?: string) =>
      renderInvitationEmail(invitation(messageLanguage ? { invitedUserMessageInfo: { messageLanguage } } : {}), REDEEM, {
        organization: 'Contoso',
      }).subject;
    expect(subject('de-DE')).toBe(EMAIL_WORDS['de-DE']!.subject('Contoso'));
    expect(subject('fr-BE')).toBe(EMAIL_WORDS['fr-FR']!.subject('Contoso'));
    expect(subject('ja-JP')).toBe(EMAIL_WORDS['en-US']!.subject('Contoso'));
    expect(subject()).toBe('Contoso invited you to collaborate');
  });

  it('is a MIME message whose headers no value can break', () => {
    // The schema refuses line breaks in a display name; the email must hold even if one got through.
    const email = renderInvitationEmail(
      {
        ...invitation({
          invitedUserMessageInfo: { ccRecipients: [{ emailAddress: { address: 'boss@fabrikam.com', name: 'Boss, "The"' } }] },
        }),
        invitedUserDisplayName: 'Ada\r\nBcc: everyone@contoso.com',
      },
      REDEEM,
      { organization: 'Contoso\r\nX-Injected: yes' },
    );
    const mime = toMimeMessage(email);
    const headers = mime.split('\r\n\r\n')[0]!;
    expect(headers).not.toMatch(/^Bcc:|^X-Injected:/m);
    expect(headers).toMatch(/^To: =\?utf-8\?B\?[A-Za-z0-9+/=]+\?= <ada@fabrikam\.com>$/m);
    // The email holds the redemption link: it goes to the invitee alone, never to the cc.
    expect(headers).not.toMatch(/^Cc:|boss@fabrikam\.com/m);
    expect(mime).toContain('Content-Type: multipart/alternative');
  });
});
