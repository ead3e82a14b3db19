import type { AccessToken } from '@azure/identity';
import type { GraphCallError } from './graphCallError';

/**
 * A process-wide circuit for the app's own sign-in. When the token endpoint refuses the app's
 * credential (a wrong or expired secret, an unknown app), stays unavailable past the retries, or
 * Graph refuses the app itself (no User.Invite.All, no admin consent), every person would fail
 * the same way: so nobody is failed. The circuit opens, the worker hands messages back with a
 * delay instead of calling Graph, a fresh token is asked for every `probeIntervalMs`, and the
 * circuit closes by itself once one is issued (with the permission, when that was what failed).
 */

export type CredentialState = { state: 'ok' } | { state: 'failing'; since: string; code: string; message: string; advice: string };

export interface CredentialCircuitOptions {
  /** Asks for a token from a new credential (nothing cached); throws when none is issued. */
  probe: () => Promise<AccessToken>;
  /**
   * How often a fresh token is asked for while the circuit is open.
   * @default 30_000
   */
  probeIntervalMs?: number;
  /**
   * How often, while open, the failure is announced again in the log.
   * @default 60_000
   */
  announceIntervalMs?: number;
  /** Told of every change of state, and again with each announcement (for the health board). */
  onStateChange?: (state: CredentialState) => void;
}

// Any of these application roles lets an app create invitations (Graph's "Create invitation" permissions).
const INVITING_ROLES = ['User.Invite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'];

export const INSUFFICIENT_PERMISSION_ADVICE =
  'Grant the application permission User.Invite.All (Application, not Delegated) to this app in Microsoft Entra ID and give admin consent; see docs/deploy.md.';

const ADVICE_BY_CODE: Record<string, string> = {
  AADSTS7000215: "The client secret is wrong: set GRAPH_CLIENT_SECRET to the secret's value (not its id).",
  AADSTS7000222: 'The client secret has expired: create a new one in the app registration and set GRAPH_CLIENT_SECRET.',
  AADSTS700027:
    'The certificate assertion was refused: upload this certificate to the app registration, or fix GRAPH_CLIENT_CERTIFICATE(_PATH).',
  AADSTS700024: "The client assertion is outside its valid time: check this machine's clock.",
  AADSTS700016: 'No app with GRAPH_CLIENT_ID exists in the tenant GRAPH_TENANT_ID: check both settings.',
  AADSTS90002: 'The tenant GRAPH_TENANT_ID does not exist: check the setting (and GRAPH_AUTHORITY_HOST for national clouds).',
  AADSTS7000112: 'The app registration is disabled: enable it, or use another.',
};

// How long one check of a fresh token's roles answers for later 403s (one token request, not one per person).
const ROLE_CHECK_VALID_MS = 60_000;

export class CredentialCircuit {
  private failing: Extract<CredentialState, { state: 'failing' }> | undefined;
  private roleCheck: { at: number; grants: Promise<boolean> } | undefined;
  /** The failure came from Graph (401/403): a token alone does not prove it is fixed, its roles must. */
  private needsRole = false;
  private nextProbeAt = 0;
  private lastAnnouncedAt = 0;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly probeIntervalMs: number;
  private readonly announceIntervalMs: number;

  constructor(private readonly options: CredentialCircuitOptions) {
    this.probeIntervalMs = options.probeIntervalMs ?? 30_000;
    this.announceIntervalMs = options.announceIntervalMs ?? 60_000;
  }

  get state(): CredentialState {
    return this.failing ?? { state: 'ok' };
  }

  /** How long a message should wait before it is tried again: until just after the next probe; 0 when closed. */
  get openForMs(): number {
    return this.failing ? Math.max(1_000, this.nextProbeAt - Date.now() + 500) : 0;
  }

  /**
   * Whether a fresh token carries a role that may invite. Graph answers `403 Authorization_RequestDenied`
   * both when the app lacks its permission and when it may not act on one user (a user it has no
   * rights over): a token that carries the role says the app is fine, and the 403 is that person's.
   */
  async tokenGrantsInvitations(): Promise<boolean> {
    if (!this.roleCheck || Date.now() - this.roleCheck.at > ROLE_CHECK_VALID_MS) {
      const grants = this.options.probe().then(
        (token) => grantsInvitations(token.token),
        () => false,
      );
      this.roleCheck = { at: Date.now(), grants };
    }
    return this.roleCheck.grants;
  }

  /** Opens the circuit (or keeps it open, with the newest error). */
  open(error: GraphCallError): void {
    const advice =
      ADVICE_BY_CODE[error.code] ??
      (error.httpStatus === 401 || error.httpStatus === 403
        ? INSUFFICIENT_PERMISSION_ADVICE
        : 'Check the Graph caller settings (GRAPH_*) and docs/deploy.md.');
    const opened = !this.failing;
    this.needsRole = error.httpStatus === 401 || error.httpStatus === 403;
    this.failing = {
      state: 'failing',
      since: this.failing?.since ?? new Date().toISOString(),
      code: error.code,
      message: error.message,
      advice,
    };
    if (opened) {
      this.nextProbeAt = Date.now() + this.probeIntervalMs;
      this.scheduleProbe();
      this.options.onStateChange?.(this.failing);
    }
  }

  /**
   * The line to log now, at most once per `announceIntervalMs` while open: what fails since when,
   * with Entra's code and what to fix.
   */
  takeAnnouncement(): string | undefined {
    if (!this.failing || Date.now() - this.lastAnnouncedAt < this.announceIntervalMs) return undefined;
    this.lastAnnouncedAt = Date.now();
    this.options.onStateChange?.(this.failing);
    const { since, code, advice } = this.failing;
    return `Graph sign-in failing since ${since} (${code}): ${advice} Nobody is failed for it; invitations wait and resume by themselves once a token is issued.`;
  }

  /** Stops probing (process shutdown). */
  dispose(): void {
    clearTimeout(this.probeTimer);
  }

  private scheduleProbe(): void {
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => void this.probeOnce(), Math.max(0, this.nextProbeAt - Date.now()));
    this.probeTimer.unref();
  }

  private async probeOnce(): Promise<void> {
    if (!this.failing) return;
    try {
      const token = await this.options.probe();
      if (this.needsRole && !grantsInvitations(token.token)) {
        this.failing = { ...this.failing, code: 'MissingPermission', message: 'A fresh token still has no permission to invite.' };
      } else {
        this.failing = undefined;
        this.lastAnnouncedAt = 0;
        this.options.onStateChange?.({ state: 'ok' });
        return;
      }
    } catch (error) {
      const failure = error as GraphCallError;
      if (this.failing && failure?.code) this.failing = { ...this.failing, code: failure.code, message: failure.message };
    }
    this.nextProbeAt = Date.now() + this.probeIntervalMs;
    this.scheduleProbe();
  }
}

/**
 * Whether an access token carries a role that may invite. Graph's tokens are JWTs today, and Entra
 * leaves `roles` out when none is granted; a token we cannot read is given the benefit of the
 * doubt (Graph itself will tell).
 */
function grantsInvitations(accessToken: string): boolean {
  try {
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { roles?: unknown };
    const roles = Array.isArray(payload.roles) ? payload.roles : [];
    return roles.some((role) => INVITING_ROLES.includes(String(role)));
  } catch {
    return true;
  }
}
