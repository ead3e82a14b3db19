import { AbortError } from 'p-retry';
import type { GraphInvitationRequest } from '../core';
import { GraphCallError, mayHaveActed, TOKEN_ENDPOINT_UNAVAILABLE } from './graphCallError';
import type { GuestLookup } from './guestLookup';
import type { GraphInvitationsClient, InvitationCreated } from './graphInvitationsClient';
import { type GraphPacer, WaitBeyondDeadlineError } from './graphPacer';
import type { CredentialCircuit } from './credentialCircuit';
import type { SendingPause } from './sendingPause';

/**
 * One invitation's way through Graph within one invocation: what it has learnt so far (calls made,
 * whether Graph may already have acted, a Retry-After of its own, a token refreshed after a 401,
 * the last failure) and what the next try does with it. p-retry runs `tryOnce` (invitationSender.ts):
 * a failure it should not retry is thrown as an AbortError, any other is retried after a backoff.
 */

// The longest one token request or Graph call may take; always cut to `mustEndBy`.
export const CALL_TIMEOUT_MS = 30_000;

/** The app cannot sign in: the credential circuit is open. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError';
}

/** Another call of this process met a pause while this one waited for its turn. */
export class PausedError extends Error {
  override readonly name = 'PausedError';
}

/** What the sender needs of the invitations client: a token, the call, a fresh credential. */
export type InvitationsCaller = Pick<GraphInvitationsClient, 'token' | 'createInvitation' | 'refreshCredential'>;

/** The guest an earlier call created, found by the lookup instead of inviting again. */
export type InvitationFound = { invitedUserId: string; foundByLookup: true; foundUser: { id: string } };

export interface AttemptContext {
  client: InvitationsCaller;
  pacer: GraphPacer;
  circuit: CredentialCircuit;
  lookup: GuestLookup | undefined;
  pause: SendingPause | undefined;
}

export interface AttemptOptions {
  /** No new try starts after this time (the invocation's budget). */
  deadline: number;
  /** No token request or Graph call outlives this time (inside the claim's lease). */
  mustEndBy: number;
  /** This is the one invitation let through while sending is paused. */
  probing: boolean;
  /** An earlier call for this person may have reached Graph: look them up before inviting again. */
  mayHaveReachedGraph: boolean;
}

export class InvitationAttempt {
  /** Calls that reached Graph (a token request is not one). */
  calls = 0;
  /** The last failure met, which is the outcome when time runs out waiting after it. */
  lastError: GraphCallError | undefined;
  private lookFirst: boolean;
  /** A 503/504's own Retry-After applies to this invitation's next try. */
  private notBefore = 0;
  private refreshedAfter401 = false;

  private readonly deadline: number;
  private readonly mustEndBy: number;
  readonly probing: boolean;

  constructor(
    private readonly request: GraphInvitationRequest,
    private readonly context: AttemptContext,
    { deadline, mustEndBy, probing, mayHaveReachedGraph }: AttemptOptions,
  ) {
    this.deadline = deadline;
    this.mustEndBy = mustEndBy;
    this.probing = probing;
    this.lookFirst = mayHaveReachedGraph;
  }

  async tryOnce(): Promise<InvitationCreated | InvitationFound> {
    const { client, pacer, circuit, lookup, pause } = this.context;
    if (circuit.openForMs > 0) throw new AbortError(new CircuitOpenError());
    if (this.notBefore > this.deadline) throw new AbortError(new WaitBeyondDeadlineError(this.notBefore - Date.now()));
    await sleepUntil(this.notBefore);
    if (this.lookFirst && lookup) {
      const found = await lookup.find(this.request.invitedUserEmailAddress);
      if (found) return { invitedUserId: found.id, foundByLookup: true, foundUser: found };
      this.lookFirst = false; // not there: this call cannot be a second invitation
    }
    try {
      // The token first, then the turn: a turn taken while a token is fetched is spent late, in
      // a burst with every call that waited for the same token, and past any pause a 429 set meanwhile.
      const token = await client.token(this.timeLeft());
      try {
        await pacer.acquire(this.deadline);
      } catch (error) {
        throw new AbortError(error as Error);
      }
      if (!this.probing && pause?.known) throw new AbortError(new PausedError());
      const created = await client.createInvitation(this.request, this.timeLeft(), token);
      this.calls += 1;
      return created;
    } catch (error) {
      if (!(error instanceof GraphCallError)) throw error;
      throw this.learnFrom(error);
    }
  }

  /** Takes in what a failed call says, and answers what to throw: the error to retry, or an AbortError to stop. */
  private learnFrom(error: GraphCallError): Error {
    const { client, pacer } = this.context;
    if (error.stage === 'graph') this.calls += 1;
    if (error.stage === 'graph' && mayHaveActed(error)) this.lookFirst = true;
    this.lastError = error;
    if (error.kind === 'throttled') {
      pacer.throttled(error.retryAfterMs);
      // The throttled call itself waits for its own Retry-After; the others only slow down.
      if (error.retryAfterMs !== undefined) this.notBefore = Date.now() + error.retryAfterMs;
    }
    if (error.kind === 'transient' && error.retryAfterMs !== undefined) this.notBefore = Date.now() + error.retryAfterMs;
    // MSAL remembers a 5xx from the token endpoint and refuses that credential's requests for up
    // to 60 s without asking again: a retry needs a new credential to really ask Entra.
    if (error.code === TOKEN_ENDPOINT_UNAVAILABLE) client.refreshCredential();
    if (error.kind === 'permanent' || error.kind === 'credential' || error.kind === 'tenant') return new AbortError(error);
    if (error.kind === 'unauthorized') {
      // One fresh token (a revoked or stale one); a second 401 is the app's permission.
      if (this.refreshedAfter401) return new AbortError(asCredentialError(error));
      this.refreshedAfter401 = true;
      client.refreshCredential();
    }
    return error;
  }

  private timeLeft(): number {
    const ms = Math.min(CALL_TIMEOUT_MS, this.mustEndBy - Date.now());
    if (ms <= 0) throw new AbortError(new WaitBeyondDeadlineError(0));
    return ms;
  }
}

function asCredentialError(error: GraphCallError): GraphCallError {
  const { code, httpStatus, graphRequestId } = error;
  return new GraphCallError(error.message, { kind: 'credential', code, httpStatus, graphRequestId, cause: error });
}

function sleepUntil(time: number): Promise<void> {
  const ms = time - Date.now();
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
