import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalFunctionHost } from '../../local/functionHost';
import type { AppDependencies } from '../../shared/appDependencies';
import { createTestDependencies, invitationFor, writeRecord } from '../support/harness';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { startEmulatedTenant, waitFor, type EmulatedTenant } from '../support/graphEmulator';
import { CapturedLogs, startHttpHost, startWorker } from '../support/pipeline';

/**
 * The dashboard in a real browser: Debian's Chromium, driven by playwright-core, against the local
 * host serving the real functions, the worker inviting through the Graph emulator. One path, as an
 * operator takes it: open the dashboard, watch a running batch reach done, filter its failures,
 * download the results CSV, and submit a failed person again.
 *
 * Playwright's own browser download cannot be fetched here, so the test uses the system Chromium
 * (CHROMIUM_PATH, default /usr/bin/chromium; `.ci/run` installs it with apt when it is missing).
 * Without it the test says so and does not run: it never fails for a missing browser.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.log(
    `[browser test NOT run] No Chromium at ${CHROMIUM}: the dashboard's browser test was skipped. ` +
      'Install it with `sudo apt-get install chromium` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium or Chrome binary.',
  );
}

const ROOT = path.join(__dirname, '..', '..');
/** Where the test leaves its screenshots (gitignored); docs/images/dashboard.png is copied from here. */
const SCREENSHOTS = path.join(ROOT, 'test-results');
const BATCH = 'partners-week-48';
const PEOPLE = 30;
const FAILING = ['refused1@fabrikam.com', 'refused2@fabrikam.com'];

let tenant: EmulatedTenant;
let deps: AppDependencies;
let host: LocalFunctionHost;
let worker: ReturnType<typeof startWorker>;
let browser: Browser;
let page: Page;

describe.skipIf(!hasChromium)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    // 10 invitations a second with 100 ms answers: a 30-person batch runs for a few seconds, long enough to watch.
    tenant = await startEmulatedTenant({ latencyMs: 100 });
    for (const email of FAILING) {
      tenant.emulator.script(email, [
        { status: 400, body: graphError('Request_BadRequest', 'The invited user address is not accepted by the target tenant.') },
      ]);
    }
    deps = await createTestDependencies({ ...tenant.settings, GRAPH_MAX_WRITES_PER_SECOND: '10' });
    host = await startHttpHost(deps);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // The flags this machine needs: no sandbox as root, and no background calls to Google's hosts.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  });
  afterAll(async () => {
    await browser?.close();
    await host?.stop();
    await worker?.stop();
    await tenant?.emulator.stop();
  });

  it('opens the dashboard: one page, no script or style from anywhere else, and a batch listed', async () => {
    const response = await fetch(`${host.url}/api/invitations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        batchId: BATCH,
        invitations: [...Array.from({ length: PEOPLE - FAILING.length }, (_, i) => `partner${i}@fabrikam.com`), ...FAILING].map((email) =>
          invitationFor(email),
        ),
      }),
    });
    expect(response.status).toBe(202);

    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    const answer = await page.goto(`${host.url}/api/dashboard`);
    expect(answer?.headers()['content-security-policy']).toContain("default-src 'none'");
    await page.getByRole('link', { name: BATCH }).waitFor();
    // Everything the page asked for came from this origin.
    expect(requested.every((url) => url.startsWith(host.url))).toBe(true);
    // The batch is listed with its progress bar, described in words for a screen reader.
    expect(await page.getByRole('img', { name: /^Progress: 30 Queued/ }).count()).toBe(1);
  });

  it('watches the running batch reach done', async () => {
    // From the keyboard: Tab to the batch's link and follow it.
    await page.getByRole('link', { name: BATCH }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: `Batch ${BATCH}` }).waitFor();
    worker = startWorker(deps, new CapturedLogs());
    await page.getByText(/still to go/).waitFor({ timeout: 20_000 });
    await page.getByText(`Done: all ${PEOPLE} people have a final status.`).waitFor({ timeout: 60_000 });
    expect(await countOf('Invited')).toBe(PEOPLE - FAILING.length);
    expect(await countOf('Failed')).toBe(FAILING.length);
    // The failed people are listed with Graph's reason, without a filter.
    await page.getByRole('heading', { name: 'Failed and dead-lettered' }).waitFor();
    const attention = await page.locator('#attention li').allTextContents();
    expect(attention).toHaveLength(FAILING.length);
    expect(attention.every((line) => line.includes('not accepted by the target tenant'))).toBe(true);
    // The throughput chart drew a line.
    expect(await page.locator('#throughput polyline').count()).toBe(1);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
  });

  it('filters its failures', async () => {
    await page.getByLabel('Show').selectOption('Failed');
    await page.getByText(`${FAILING.length} of ${FAILING.length} failed`).waitFor();
    const rows = page.locator('#people tbody tr');
    expect((await rows.allTextContents()).map((text) => FAILING.find((email) => text.includes(email)))).toEqual(
      expect.arrayContaining(FAILING),
    );
    for (const text of await rows.allTextContents()) expect(text).toContain('Request_BadRequest');
  });

  it('shows an email whose outcome is Unknown with what to check, among the invited', async () => {
    const unknown = 'Unknown: the email may or may not have been sent. Look in the Sent Items for Message-ID <invitation.1@contoso.com>';
    await writeRecord(deps, recordIdForEmail('partner0@fabrikam.com'), { emailStatus: 'Unknown', emailError: unknown });
    await page.getByLabel('Show').selectOption('Invited');
    const row = page.locator('#people tbody tr', { hasText: 'partner0@fabrikam.com' });
    await row.getByText('Email Unknown: Unknown: the email may or may not have been sent', { exact: false }).waitFor();
    expect(await row.textContent()).toContain('<invitation.1@contoso.com>');
    await page.getByLabel('Show').selectOption('');
  });

  it('downloads the results CSV, every person in it', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download results (CSV)' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`${BATCH}-results.csv`);
    const rows = parse(readFileSync((await download.path())!, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(PEOPLE);
    expect(
      rows
        .filter((row) => row.status === 'Failed')
        .map((row) => row.email)
        .sort(),
    ).toEqual([...FAILING].sort());
    expect(rows.filter((row) => row.status === 'Invited')).toHaveLength(PEOPLE - FAILING.length);
  });

  it('submits a failed person again, who is then invited', async () => {
    const [first] = FAILING;
    await page.locator('#people tbody tr', { hasText: first! }).getByRole('button', { name: 'Submit again' }).click();
    await page.getByText(`${first} submitted again.`).waitFor();
    await waitFor(async () => (await countOf('Invited')) === PEOPLE - FAILING.length + 1, {
      timeoutMs: 30_000,
      what: 'the person invited',
    });
    expect(await countOf('Failed')).toBe(FAILING.length - 1);
    // The scripted refusal was once: the second call was accepted.
    expect(tenant.emulator.callsFor(first!).map((call) => call.status)).toEqual([400, 201]);
    await page.getByLabel('Show').selectOption('');
    await page.getByText(`Done: all ${PEOPLE} people have a final status.`).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-after-redrive.png'), fullPage: true });
  });

  it('shows a banner while sending is paused, with the reason, and none once it resumes', async () => {
    await deps.sendingPause.pauseByOperator('Change freeze until Monday', 'the admin key');
    await page.goto(`${host.url}/api/dashboard`);
    const banner = page.getByRole('alert');
    await banner
      .getByText(/^Sending is paused \(by the admin key\) since .*: Change freeze until Monday\. \d+ message\(s\) wait\.$/)
      .waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-paused.png'), fullPage: true });
    // The banner was there; the page's next look at health takes it away.
    await deps.sendingPause.resumeByOperator();
    await expect.poll(() => page.locator('#sending').textContent(), { timeout: 15_000, interval: 200 }).toBe('');
  });

  it('plans a chosen file before submitting it, writing nothing, then submits it', async () => {
    await page.goto(`${host.url}/api/dashboard#/`);
    const csv = [
      'version:v1.0',
      'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required',
      'planned.one@fabrikam.com,https://myapps.microsoft.com',
      'planned.one@fabrikam.com,https://myapps.microsoft.com',
      'not-an-address,https://myapps.microsoft.com',
    ].join('\n');
    await page
      .getByLabel(/A bulk-invite CSV or a JSON file/)
      .setInputFiles({ name: 'week49.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Plan (writes nothing)' }).click();
    await page.getByText(/^week49\.csv: 3 row\(s\): 1 Invite, 1 Duplicate, 1 Rejected\./).waitFor();
    const rows = await page.locator('#plan-rows tbody tr').allTextContents();
    expect(rows).toHaveLength(3);
    expect(rows[2]).toContain('invitedUserEmailAddress');
    expect(await deps.store.findByEmail('planned.one@fabrikam.com')).toEqual([]);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-plan.png'), fullPage: true });

    await page.getByRole('button', { name: 'Submit this file' }).click();
    await page.getByText('1 people queued, 1 rows rejected.').waitFor();
    await page.getByRole('heading', { name: /^Batch / }).waitFor();
    expect(await deps.store.findByEmail('planned.one@fabrikam.com')).toHaveLength(1);
  });

  it('is readable on a phone: nothing wider than the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${host.url}/api/dashboard#/batches/${BATCH}`);
    await page.getByRole('heading', { name: `Batch ${BATCH}` }).waitFor();
    await page.getByText(/^Done: all/).waitFor();
    // Evaluated in the page (a string: this file is compiled without the DOM's types).
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-phone.png'), fullPage: true });
  });
});

async function countOf(status: string): Promise<number> {
  const label = status === 'DeadLettered' ? 'Dead-lettered' : status;
  const value = await page
    .locator('#batch-counts div', { has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) })
    .locator('dd')
    .textContent();
  return Number(value);
}

function graphError(code: string, message: string) {
  return { error: { code, message, innerError: { 'request-id': 'scripted', date: new Date().toISOString() } } };
}
