import { isAllowedHost, emailDomain } from '../core';

/**
 * INVITE_ALLOWED_DOMAINS / INVITE_BLOCKED_DOMAINS: which partners' domains may be invited.
 * A subdomain matches its parent (mail.fabrikam.com is fabrikam.com), as Entra's own
 * allow/deny list for B2B collaboration does.
 */
export interface DomainPolicy {
  allowed: readonly string[];
  blocked: readonly string[];
}

const isWithin = (domain: string, parent: string) => domain === parent || domain.endsWith(`.${parent}`);

/** Why the domain of `normalizedEmail` may not be invited, or undefined when it may. */
export function domainPolicyProblem(normalizedEmail: string, policy: DomainPolicy): string | undefined {
  const domain = emailDomain(normalizedEmail);
  const blockedBy = policy.blocked.find((parent) => isWithin(domain, parent));
  if (blockedBy) return `is in the blocked domain ${blockedBy} (INVITE_BLOCKED_DOMAINS)`;
  if (policy.allowed.length > 0 && !policy.allowed.some((parent) => isWithin(domain, parent))) {
    return `is not in an allowed domain (INVITE_ALLOWED_DOMAINS: ${policy.allowed.join(', ')})`;
  }
  return undefined;
}

/**
 * Why a callbackUrl may not be used, or undefined when it may: its host and port must be listed
 * exactly in CALLBACK_ALLOWED_HOSTS (allowedHosts.ts), so that a caller cannot make the app POST to
 * any address it can reach (its own network included).
 */
export function callbackHostProblem(callbackUrl: string, allowedHosts: readonly string[]): string | undefined {
  if (isAllowedHost(new URL(callbackUrl), allowedHosts)) return undefined;
  return allowedHosts.length === 0
    ? 'is not allowed: no callback host is allowed (CALLBACK_ALLOWED_HOSTS is empty)'
    : `names a host and port not in CALLBACK_ALLOWED_HOSTS (${allowedHosts.join(', ')}; a host without a port means 443)`;
}
