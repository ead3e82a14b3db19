import pRetry, { AbortError } from 'p-retry';
import type { GraphInvitationRequest } from '../invitation';
import { GraphCallError } from './graphCallError';
import type { GraphInvitationsClient, InvitationCreated } from './graphInvitationsClient';
import { GraphPacer, WaitBeyondDeadlineError } from './graphPacer';

/**
 * Gets one invitation through Graph within an invocation's deadline: paced, retried with p-retry
 * where a retry is safe and useful, and given up on at once where it is not.
 */

export type SendOutcome =
  | { kind: 'invited'; created: InvitationCreated; calls: number }
  /** Graph refused it: the same request would be refused again. */
  | { kind: 'refused'; error: GraphCallError; calls: number }
  /** Still failing after our retries: the queue delivers it again later. */
  | { kind: 'unavailable'; error: GraphCallError; calls: number }
  /** Graph's budget has no room before the deadline: send it again after `waitMs`. */
  | { kind: 'throttled'; waitMs: number; calls: number; error?: GraphCallError };

export const INSUFFICIENT_PERMISSION_ADVICE =
  'Grant the application permission User.Invite.All (Application, not Delegated) to this app in Microsoft Entra ID and give admin consent; see docs/deploy.md.';

export interface SenderOptions {
  /** Retries of transient failures within one invocation (429s are not counted: they wait). */
  retries: number;
  minBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_SENDER_OPTIONS: SenderOptions = { retries: 5, minBackoffMs: 250, maxBackoffMs: 8_000 };
// Without Retry-After a 429 still pauses the process for this long.
const DEFAULT_THROTTLE_PAUSE_MS = 1_000;

export class InvitationSender {
  constructor(
    private readonly client: GraphInvitationsClient,
    private readonly pacer: GraphPacer,
    private readonly options: SenderOptions = DEFAULT_SENDER_OPTIONS,
  ) {}

  async send(request: GraphInvitationRequest, deadline: number): Promise<SendOutcome> {
    let calls = 0;
    let notBefore = 0; // a 503/504's own Retry-After applies to this invitation's next try
    let refreshedAfter401 = false;
    let lastError: GraphCallError | undefined;
    try {
      const created = await pRetry(
        async () => {
          if (notBefore > deadline) throw new AbortError(new WaitBeyondDeadlineError(notBefore - Date.now()));
          await sleepUntil(notBefore);
          try {
            await this.pacer.acquire(deadline);
          } catch (error) {
            throw new AbortError(error as Error);
          }
          calls += 1;
          try {
            return await this.client.createInvitation(request);
          } catch (error) {
            if (!(error instanceof GraphCallError)) throw error;
            lastError = error;
            if (error.kind === 'throttled') this.pacer.pause(error.retryAfterMs ?? DEFAULT_THROTTLE_PAUSE_MS);
            if (error.kind === 'transient' && error.retryAfterMs !== undefined) notBefore = Date.now() + error.retryAfterMs;
            if (error.kind === 'permanent' || (error.kind === 'unauthorized' && refreshedAfter401)) throw new AbortError(error);
            if (error.kind === 'unauthorized') {
              refreshedAfter401 = true;
              this.client.refreshCredential();
            }
            throw error;
          }
        },
        {
          retries: this.options.retries,
          minTimeout: this.options.minBackoffMs,
          maxTimeout: this.options.maxBackoffMs,
          factor: 2,
          randomize: true,
          maxRetryTime: Math.max(0, deadline - Date.now()),
          // A 429 waits in the pacer for its Retry-After; it never uses up a retry.
          shouldConsumeRetry: ({ error }) => !(error instanceof GraphCallError && error.kind === 'throttled'),
        },
      );
      if (created.throttleLimitPercentage !== undefined) this.pacer.observeLimitPercentage(created.throttleLimitPercentage);
      return { kind: 'invited', created, calls };
    } catch (error) {
      if (error instanceof WaitBeyondDeadlineError) {
        return { kind: 'throttled', waitMs: error.waitMs, calls, ...(lastError ? { error: lastError } : {}) };
      }
      if (!(error instanceof GraphCallError)) throw error;
      if (error.kind === 'permanent') return { kind: 'refused', error, calls };
      if (error.kind === 'unauthorized') {
        return {
          kind: 'refused',
          error: new GraphCallError('permanent', error.code, `${error.message} ${INSUFFICIENT_PERMISSION_ADVICE}`, error.httpStatus, error.graphRequestId),
          calls,
        };
      }
      if (error.kind === 'throttled') return { kind: 'throttled', waitMs: Math.max(this.pacer.pausedForMs, DEFAULT_THROTTLE_PAUSE_MS), calls, error };
      return { kind: 'unavailable', error, calls };
    }
  }
}

function sleepUntil(time: number): Promise<void> {
  const ms = time - Date.now();
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
