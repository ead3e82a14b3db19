import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { RequestProblem } from './problems';
import { settingsSchema } from '../../shared/settings';

/**
 * Callers with their own Entra identity (API_CALLER_AUTH=entra): App Service Authentication
 * validates the caller's token and passes its claims in X-MS-CLIENT-PRINCIPAL (external requests
 * cannot set that header while the platform's authentication is on: settings.ts refuses `entra`
 * without it on Azure). Each route needs one app role of the app registration, assigned by an
 * admin to each caller's identity: an HR system's managed identity gets Invitations.Submit, a
 * reader Invitations.Read, an operator Invitations.Operate. No shared secret exists then.
 */

/** Who a route lets in under the Functions host's keys (@azure/functions' HttpTriggerOptions.authLevel). */
export type AuthLevel = 'anonymous' | 'function' | 'admin';

export const CALLER_ROLES = {
  submit: 'Invitations.Submit',
  read: 'Invitations.Read',
  operate: 'Invitations.Operate',
} as const;
export type CallerRole = keyof typeof CALLER_ROLES;

const principalSchema = z.object({
  auth_typ: z.string().optional(),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
  role_typ: z.string().optional(),
});

// Entra's v2 tokens say `roles`; the platform's claim mapping may give the long WS-Federation name.
const ROLE_CLAIMS = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];

// Who the caller is: its object id (a user, or an app's service principal), else its client id.
const IDENTITY_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid', 'appid', 'azp'];

function principalOf(request: HttpRequest): z.infer<typeof principalSchema> | undefined {
  const header = request.headers.get('x-ms-client-principal');
  if (!header) return undefined;
  try {
    const principal = principalSchema.safeParse(JSON.parse(Buffer.from(header, 'base64').toString('utf8')));
    return principal.success ? principal.data : undefined;
  } catch {
    return undefined;
  }
}

/** The caller's app roles from the platform's principal header; undefined when there is no principal. */
export function principalRoles(request: HttpRequest): string[] | undefined {
  const principal = principalOf(request);
  if (!principal) return undefined;
  const roleTypes = new Set([...ROLE_CLAIMS, ...(principal.role_typ ? [principal.role_typ] : [])]);
  return principal.claims.filter((claim) => roleTypes.has(claim.typ)).map((claim) => claim.val);
}

/**
 * Who the caller is, as far as the host can tell, for limits per caller: its Entra identity with
 * API_CALLER_AUTH=entra; with function keys the host does not say which key was used, so every
 * key holder is one caller.
 */
export function callerIdentity(request: HttpRequest, mode: 'keys' | 'entra'): string {
  if (mode !== 'entra') return 'function-key';
  const claims = principalOf(request)?.claims ?? [];
  const id = IDENTITY_CLAIMS.map((type) => claims.find((claim) => claim.typ === type)?.val).find(Boolean);
  return id ? `entra:${id}` : 'entra:unknown';
}

/** Refuses a caller without the route's app role: 401 without a principal, 403 without the role. */
export function requireCallerRole(request: HttpRequest, role: CallerRole): void {
  const needed = CALLER_ROLES[role];
  const roles = principalRoles(request);
  if (roles === undefined)
    throw new RequestProblem(
      401,
      'not-signed-in',
      'The caller is not signed in',
      `API_CALLER_AUTH=entra: call with an Entra access token for this app (Authorization: Bearer …) whose roles include ${needed}.`,
    );
  if (!roles.includes(needed))
    throw new RequestProblem(
      403,
      'missing-app-role',
      'The caller lacks the app role',
      `This route needs the app role ${needed}; the caller's token has ${roles.length > 0 ? roles.join(', ') : 'no app role'}. An admin assigns it to the caller's identity (docs/deploy.md).`,
    );
}

/** How a route registers: with API_CALLER_AUTH=entra the platform authenticates and the app checks the role, so no key is asked for. */
export function registeredAuthLevel(authLevel: AuthLevel, role: CallerRole | undefined): AuthLevel {
  const mode = settingsSchema.shape.API_CALLER_AUTH.safeParse(process.env.API_CALLER_AUTH || undefined);
  return role && mode.success && mode.data === 'entra' ? 'anonymous' : authLevel;
}
