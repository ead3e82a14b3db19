import type { HttpRequest } from '@azure/functions';
import { z } from 'zod';
import { RequestProblem } from '../../shared/problem';
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

/** The caller's app roles from the platform's principal header; undefined when there is no principal. */
export function principalRoles(request: HttpRequest): string[] | undefined {
  const header = request.headers.get('x-ms-client-principal');
  if (!header) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const principal = principalSchema.safeParse(json);
  if (!principal.success) return undefined;
  const roleTypes = new Set([...ROLE_CLAIMS, ...(principal.data.role_typ ? [principal.data.role_typ] : [])]);
  return principal.data.claims.filter((claim) => roleTypes.has(claim.typ)).map((claim) => claim.val);
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
