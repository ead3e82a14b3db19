import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { getInvitation } from '../../functions/getInvitation';
import { runLifecycle } from '../../functions/runLifecycle';
import type { CoreRegistration } from '../../local/functionsCore';
import { recordIdForEmail } from '../../shared/core/invitationRecord';
import { loadSettings, SettingsError } from '../../shared/settings';
import { createTestDependencies, invitationFor, invokeHttp, queueLength, submit, tableRowCount } from '../support/harness';

/**
 * API_CALLER_AUTH=entra: every route needs its app role from the caller App Service Authentication
 * validated (functions/runtime/callerRoles.ts), instead of a shared function key.
 */

/** The header App Service Authentication sets for a caller whose token carries `roles`. */
function principal(roles: string[]): Record<string, string> {
  const claims = [{ typ: 'appid', val: 'hr-system' }, ...roles.map((role) => ({ typ: 'roles', val: role }))];
  return { 'x-ms-client-principal': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims, role_typ: 'roles' })).toString('base64') };
}

describe('callers with their own Entra identity and app roles', () => {
  it('lets each route in only with its role: 401 without a principal, 403 without the role, nothing written either way', async () => {
    const deps = await createTestDependencies({ API_CALLER_AUTH: 'entra' });
    const item = invitationFor('roles@fabrikam.com');
    const rowsBefore = await tableRowCount(deps);

    const anonymous = await submit(deps, item);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const reader = await submit(deps, item, { headers: principal(['Invitations.Read']) });
    expect(reader.status).toBe(403);
    expect(reader.json.detail).toContain('Invitations.Submit');
    expect(await tableRowCount(deps)).toBe(rowsBefore);
    expect(await queueLength(deps)).toBe(0);

    const hrSystem = await submit(deps, item, { headers: principal(['Invitations.Submit']) });
    expect(hrSystem.status).toBe(202);
    const id = recordIdForEmail('roles@fabrikam.com');
    const read = (roles: string[]) =>
      invokeHttp(getInvitation, deps, { path: `/api/invitations/${id}`, params: { id }, headers: principal(roles) });
    expect((await read(['Invitations.Submit'])).status).toBe(403);
    expect((await read(['Invitations.Read'])).status).toBe(200);

    const operate = (roles: string[]) =>
      invokeHttp(runLifecycle, deps, {
        method: 'POST',
        path: '/api/lifecycle/run',
        headers: { 'content-type': 'application/json', ...principal(roles) },
      });
    expect((await operate(['Invitations.Submit', 'Invitations.Read'])).status).toBe(403);
    expect((await operate(['Invitations.Operate'])).status).toBe(200);
  });

  it('ignores a principal header with function keys (API_CALLER_AUTH=keys, the default): the key is the gate', async () => {
    const deps = await createTestDependencies();
    expect((await submit(deps, invitationFor('keys@fabrikam.com'), { headers: principal([]) })).status).toBe(202);
  });

  it('refuses to start with entra on Azure without App Service Authentication, where anyone could send the header', () => {
    const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', API_CALLER_AUTH: 'entra', WEBSITE_SITE_NAME: 'func-invite' };
    expect(() => loadSettings(base)).toThrow(SettingsError);
    expect(() => loadSettings(base)).toThrow(/API_CALLER_AUTH=entra needs App Service Authentication/);
    expect(loadSettings({ ...base, WEBSITE_AUTH_ENABLED: 'True' }).API_CALLER_AUTH).toBe('entra');
  });

  it('registers every route but the dashboard page without a key when callers sign in with Entra', () => {
    const root = path.join(__dirname, '..', '..');
    const output = execFileSync(process.execPath, ['--require', 'tsx/cjs', path.join(root, 'test', 'support', 'captureRegistrations.ts')], {
      cwd: root,
      env: { ...process.env, AzureWebJobsStorage: 'UseDevelopmentStorage=true', API_CALLER_AUTH: 'entra' },
      encoding: 'utf8',
    });
    const levels = Object.fromEntries(
      (JSON.parse(output) as CoreRegistration[]).flatMap((registration) => {
        const trigger = Object.values(registration.bindings).find((binding) => binding.type === 'httpTrigger');
        return trigger ? [[registration.name, trigger.authLevel]] : [];
      }),
    );
    expect(levels.submitInvitations).toBe('anonymous');
    expect(levels.getRedeemUrl).toBe('anonymous');
    expect(new Set(Object.values(levels))).toEqual(new Set(['anonymous']));
  });
});
