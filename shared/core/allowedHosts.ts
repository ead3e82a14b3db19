/**
 * Host allow-lists (CALLBACK_ALLOWED_HOSTS, INVITE_ALLOWED_REDIRECT_HOSTS): an entry is an exact
 * `host` or `host:port`, and a bare host means the https port, 443. `hr.contoso.com` does not allow
 * `hr.contoso.com:8080` (another service on the same machine), nor `evil.hr.contoso.com`.
 */

const HTTPS_PORT = '443';

function withPort(entry: string): string {
  return /:\d+$/.test(entry) ? entry.toLowerCase() : `${entry.toLowerCase()}:${HTTPS_PORT}`;
}

/** Whether an https URL's host and port are listed exactly. */
export function isAllowedHost(url: URL, allowedHosts: readonly string[]): boolean {
  const target = `${url.hostname.toLowerCase()}:${url.port || HTTPS_PORT}`;
  return allowedHosts.some((entry) => withPort(entry) === target);
}

/** The list's entry for a URL's host and port (its key in CALLBACK_SECRETS), or undefined. */
export function hostKeyOf(url: URL, keys: readonly string[]): string | undefined {
  const target = `${url.hostname.toLowerCase()}:${url.port || HTTPS_PORT}`;
  return keys.find((entry) => withPort(entry) === target);
}
