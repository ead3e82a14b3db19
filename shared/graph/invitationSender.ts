import pRetry from 'p-retry';
import type { GraphInvitationRequest } from '../core';
import type { CredentialCircuit } from './credentialCircuit';
import { GraphCallError, TOKEN_ENDPOINT_UNAVAILABLE } from './graphCallError';
import { GuestLookupError, type GuestLookup } from './guestLookup';
import type { InvitationCreated } from './graphInvitationsClient';
import { type GraphPacer, WaitBeyondDeadlineError } from './graphPacer';
import { CALL_TIMEOUT_MS, CircuitOpenError, InvitationAttempt, type InvitationsCaller, PausedError } from './invitationAttempt';

export type { InvitationsCaller } from './invitationAttempt';
import type { PauseState, SendingPause } from './sendingPause';

/**
 * Gets one invitation through Graph within an invocation's deadline: paced, retried with p-retry
 * where a retry is safe and useful, and given up on at once where it is not. Nothing after a 201
 * is ever retried: the client returns once Graph has answered 201, whatever the body held. Each
 * try is the attempt's (invitationAttempt.ts); this decides what the attempt as a whole comes to.
 */

export type SendOutcome =
  | { kind: 'invited'; created: InvitationCreated; calls: number }
  /** Graph refused it: the same request would be refused again. */
  | { kind: 'refused'; error: GraphCallError; calls: number }
  /** Still failing after our retries: the queue delivers it again later. */
  | { kind: 'unavailable'; error: GraphCallError; calls: number }
  /** Graph's budget has no room before the deadline: send it again after `waitMs`. */
  | { kind: 'throttled'; waitMs: number; calls: number; error?: GraphCallError }
  /** The app cannot sign in (the circuit is open): nobody's fault but ours; send it again after `waitMs`. */
  | { kind: 'suspended'; waitMs: number; calls: number; error: GraphCallError; announcement?: string }
  /** Sending is paused (the tenant refused, or an operator): nobody's fault; send it again after `waitMs`. */
  | { kind: 'paused'; waitMs: number; calls: number; pause: PauseState; error?: GraphCallError };

// Retries of transient failures within one invocation (429s are not counted: they wait), with
// exponential backoff between MIN_BACKOFF_MS and MAX_BACKOFF_MS.
const RETRIES = 5;
const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 8_000;

// Without Retry-After a 429 still pauses the process for this long.
const DEFAULT_THROTTLE_PAUSE_MS = 1_000;

export interface SendOptions {
  /**
   * An earlier call for this person may have reached Graph (a claim taken over from a crashed
   * worker, or a call whose connection failed): look the person up before inviting again.
   */
  mayHaveReachedGraph?: boolean;
}

export class InvitationSender {
  constructor(
    private readonly client: InvitationsCaller,
    private readonly pacer: GraphPacer,
    private readonly circuit: CredentialCircuit,
    /** Looks a person up before a call that could be a second invitation; none: always call. */
    private readonly lookup?: GuestLookup,
    /** The pause shared by every instance (sendingPause.ts); none: never paused. */
    private readonly pause?: SendingPause,
  ) {}

  /**
   * @param deadline no new attempt starts after this time (the invocation's budget).
   * @param mustEndBy no token request or Graph call outlives this time (inside the claim's lease).
   */
  async send(
    request: GraphInvitationRequest,
    deadline: number,
    mustEndBy = deadline + CALL_TIMEOUT_MS,
    { mayHaveReachedGraph = false }: SendOptions = {},
  ): Promise<SendOutcome> {
    // While paused, only the probe goes: one invitation per TENANT_PAUSE_PROBE_MINUTES for the whole app.
    const pausedBefore = await this.pause?.current();
    const probing = pausedBefore?.kind === 'tenant' && (await this.pause!.takeProbe());
    if (pausedBefore && !probing) return this.paused(pausedBefore, 0);
    const context = { client: this.client, pacer: this.pacer, circuit: this.circuit, lookup: this.lookup, pause: this.pause };
    const attempt = new InvitationAttempt(request, context, { deadline, mustEndBy, probing, mayHaveReachedGraph });
    try {
      const created = await pRetry(() => attempt.tryOnce(), {
        retries: RETRIES,
        minTimeout: MIN_BACKOFF_MS,
        maxTimeout: MAX_BACKOFF_MS,
        factor: 2,
        randomize: true,
        maxRetryTime: Math.max(0, deadline - Date.now()),
        // A 429 waits in the pacer for its Retry-After; it never uses up a retry.
        shouldConsumeRetry: ({ error }) => !(error instanceof GraphCallError && error.kind === 'throttled'),
      });
      if (!created.foundByLookup) this.pacer.accepted(created.throttleLimitPercentage);
      if (probing) await this.pause!.probeAccepted();
      return { kind: 'invited', created, calls: attempt.calls };
    } catch (caught) {
      return this.outcomeOfFailure(caught, attempt);
    }
  }

  /** What an attempt that did not end in an invitation comes to: whose fault, and when to try again. */
  private async outcomeOfFailure(caught: unknown, { calls, lastError }: InvitationAttempt): Promise<SendOutcome> {
    if (caught instanceof GuestLookupError) return { kind: 'unavailable', error: caught.failure, calls };
    // Out of time waiting for a turn after a Graph failure: that failure is the outcome (the queue
    // retries it, counting a dequeue); without one it is only the budget (handed back free).
    const error = caught instanceof WaitBeyondDeadlineError && lastError?.kind === 'transient' ? lastError : caught;
    if (error instanceof WaitBeyondDeadlineError) {
      return {
        kind: 'throttled',
        waitMs: Math.max(error.waitMs, DEFAULT_THROTTLE_PAUSE_MS),
        calls,
        ...(lastError ? { error: lastError } : {}),
      };
    }
    if (error instanceof CircuitOpenError) return this.suspended(calls, lastError);
    if (error instanceof PausedError) return this.paused(this.pause!.known!, calls);
    // About the tenant, not the person: everyone stops, nobody is failed (sendingPause.ts).
    if (error instanceof GraphCallError && error.kind === 'tenant' && this.pause)
      return this.paused(await this.pause.refusedByTenant(error), calls, error);
    if (!(error instanceof GraphCallError)) throw error;
    if (error.kind === 'permanent') return { kind: 'refused', error, calls };
    // A 403 while a fresh token carries the role: Graph refused this person, not the app. Failing
    // them alone keeps one such person from holding every other invitation (and health) hostage.
    if (error.kind === 'credential' && error.stage === 'graph' && error.httpStatus === 403 && (await this.circuit.tokenGrantsInvitations()))
      return { kind: 'refused', error, calls };
    // The app's sign-in, not the person: an operator's fix, or Entra's outage, waits in the circuit.
    if (error.kind === 'credential' || (error.kind === 'transient' && error.code === TOKEN_ENDPOINT_UNAVAILABLE)) {
      this.circuit.open(error);
      return this.suspended(calls, error);
    }
    if (error.kind === 'throttled')
      return { kind: 'throttled', waitMs: Math.max(this.pacer.pausedForMs, DEFAULT_THROTTLE_PAUSE_MS), calls, error };
    return { kind: 'unavailable', error, calls };
  }

  private paused(pause: PauseState, calls: number, error?: GraphCallError): SendOutcome {
    return { kind: 'paused', waitMs: this.pause!.recheckMs(pause), calls, pause, ...(error ? { error } : {}) };
  }

  private suspended(calls: number, error: GraphCallError | undefined): SendOutcome {
    const state = this.circuit.state;
    const advice = state.state === 'failing' ? ` ${state.advice}` : '';
    // This invocation's own error when it met one (with Graph's status and request-id), else the circuit's.
    const reason =
      error ??
      (state.state === 'failing'
        ? new GraphCallError(state.message, { kind: 'credential', code: state.code })
        : new GraphCallError('The app could not sign in to Graph a moment ago.', { kind: 'credential', code: 'CredentialCircuitOpen' }));
    const withAdvice = new GraphCallError(`${reason.message}${advice}`, {
      kind: 'credential',
      code: reason.code,
      httpStatus: reason.httpStatus,
      graphRequestId: reason.graphRequestId,
    });
    const announcement = this.circuit.takeAnnouncement();
    return {
      kind: 'suspended',
      waitMs: Math.max(1_000, this.circuit.openForMs),
      calls,
      error: withAdvice,
      ...(announcement ? { announcement } : {}),
    };
  }
}
