import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { appFunctions } from '../../functions/appFunctions';
import { getDashboard } from '../../functions/getDashboard';
import { loadSettings, SettingsError } from '../../shared/settings';
import { INVITATION_STATUSES } from '../../shared/core';
import { createTestDependencies, invokeHttp } from '../support/harness';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

describe('GET /api/dashboard', () => {
  it('serves one page whose only script and style are its own, pinned by hash in its Content-Security-Policy', async () => {
    const deps = await createTestDependencies();
    const response = await invokeHttp(getDashboard, deps, { path: '/api/dashboard' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const policy = response.headers.get('content-security-policy')!;
    const script = /<script>([\s\S]*?)<\/script>/.exec(response.text)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(response.text)![1]!;
    expect(policy).toContain(`script-src ${sha256(script)}`);
    expect(policy).toContain(`style-src ${sha256(style)}`);
    expect(policy).toContain("default-src 'none'");
    expect(policy).toContain("connect-src 'self'");
    // Nothing from elsewhere: no src= or href= to another origin, no second script.
    expect(response.text.match(/<script/g)).toHaveLength(1);
    expect(response.text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('shows every status a record can have, each with its label and colour', async () => {
    const deps = await createTestDependencies();
    const page = (await invokeHttp(getDashboard, deps, { path: '/api/dashboard' })).text;
    const listed = /const STATUSES = \[([^\]]*)\]/
      .exec(page)![1]!
      .match(/'(\w+)'/g)!
      .map((quoted) => quoted.slice(1, -1));
    expect(listed).toEqual([...INVITATION_STATUSES]);
    for (const status of INVITATION_STATUSES) expect(page).toContain(`.s-${status} {`);
  });

  it('is the only anonymous route: the data it shows stays behind function keys', () => {
    const anonymous = appFunctions.filter((definition) => definition.kind === 'http' && definition.authLevel === 'anonymous');
    expect(anonymous.map((definition) => definition.name)).toEqual(['getDashboard']);
  });

  it('sends a reader who is not signed in to Entra sign-in when DASHBOARD_REQUIRE_SIGN_IN is true, and serves a signed-in one', async () => {
    const deps = await createTestDependencies({ DASHBOARD_REQUIRE_SIGN_IN: 'true' });
    const anonymous = await invokeHttp(getDashboard, deps, { path: '/api/dashboard' });
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.get('location')).toBe('/.auth/login/aad?post_login_redirect_uri=/api/dashboard');
    expect(anonymous.text).toBe('');
    const signedIn = await invokeHttp(getDashboard, deps, {
      path: '/api/dashboard',
      headers: { 'x-ms-client-principal-id': '00000000-0000-0000-0000-000000000001', 'x-ms-client-principal-name': 'ops@contoso.com' },
    });
    expect(signedIn.status).toBe(200);
  });

  it('refuses a DASHBOARD_REQUIRE_SIGN_IN that is not true or false, naming it', () => {
    expect(() => loadSettings({ DASHBOARD_REQUIRE_SIGN_IN: 'yes' })).toThrow(SettingsError);
    expect(() => loadSettings({ DASHBOARD_REQUIRE_SIGN_IN: 'yes' })).toThrow(/DASHBOARD_REQUIRE_SIGN_IN/);
  });
});
