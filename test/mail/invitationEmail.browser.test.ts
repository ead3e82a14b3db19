import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invitationSchema } from '../../shared/core/invitation';
import { renderInvitationEmail } from '../../shared/mail/invitationEmail';

/**
 * Our invitation email as a mail client's HTML view shows it, in Debian's Chromium (as the
 * dashboard's browser test; CHROMIUM_PATH): nothing a caller wrote runs, the button is the link
 * Graph issued. It leaves the page and a screenshot in test-results/ (docs/images/ has copies).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.log(`[browser test NOT run] No Chromium at ${CHROMIUM}: the email's browser test was skipped.`);

const OUT = path.join(__dirname, '..', '..', 'test-results');
const REDEEM =
  'https://login.microsoftonline.com/redeem?rd=https%3a%2f%2finvitations.microsoft.com%2fredeem%2f%3ftenant%3d72f988bf%26user%3d5751307a%26ticket%3d92a7761a%26ver%3d2.0';

// A logo drawn inline (the page may load nothing); a real INVITE_BRAND_LOGO_URL is https.
const LOGO = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" width="140" height="40"><rect width="140" height="40" rx="6" fill="#0f6cbd"/><text x="14" y="27" font-family="sans-serif" font-size="20" font-weight="bold" fill="#fff">Contoso</text></svg>',
)}`;

let browser: Browser;

describe.skipIf(!hasChromium)('our invitation email in Chromium', () => {
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the message and the branding, runs nothing a caller wrote, and links to the redemption URL', async () => {
    const render = (name: string) =>
      renderInvitationEmail(
        invitationSchema.parse({
          invitedUserEmailAddress: 'ava.jones@fabrikam.com',
          inviteRedirectUrl: 'https://myapps.microsoft.com',
          invitedUserDisplayName: name,
          invitedUserMessageInfo: {
            customizedMessageBody: 'Welcome to the Northwind project!\nYour sponsor is Dana Reyes; the kick-off is on Monday.',
          },
        }),
        REDEEM,
        { organization: 'Contoso', logoUrl: LOGO, color: '#0f6cbd' },
      );
    const email = render('Ava Jones <img src=x onerror="document.title=\'pwned\'">');
    const page = await browser.newPage({ viewport: { width: 640, height: 720 } });
    // A mail client shows the HTML with no network: block every request the email could make.
    await page.route('**/*', (route) => route.abort());
    await page.setContent(email.html);
    expect(await page.title()).toBe(email.subject);
    await expect(page.locator('a', { hasText: 'Accept invitation' }).getAttribute('href')).resolves.toBe(REDEEM);
    expect(await page.locator('blockquote').innerText()).toContain('Your sponsor is Dana Reyes');
    expect(await page.locator('body').innerText()).toContain('Hello Ava Jones <img src=x onerror="document.title=\'pwned\'">,');
    expect(await page.locator('img[src=x]').count()).toBe(0);

    // The sample in docs/images: a plain name.
    const sample = render('Ava Jones');
    await page.setContent(sample.html);
    mkdirSync(OUT, { recursive: true });
    writeFileSync(path.join(OUT, 'invitation-email.html'), sample.html);
    await page.screenshot({ path: path.join(OUT, 'invitation-email.png'), fullPage: true });
    await page.close();
  });
});
