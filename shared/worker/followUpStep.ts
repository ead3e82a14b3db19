import { GraphCallError } from '../graph';

/** What every follow-up step (worker/invitationFollowUp.ts, emailStep.ts) shares: how a step waits, and what a sign-in failure is. */

/** The app's sign-in failed (not the step): a refused or unavailable token, or Graph's 401 for it. */
export function isSignInFailure(error: unknown): boolean {
  return error instanceof GraphCallError && (error.stage === 'token' || error.httpStatus === 401);
}

/** A step that cannot go now (the app's sign-in fails, a budget has no room): it stays as it is, for `waitMs` at least. */
export class StepWaits extends Error {
  override readonly name = 'StepWaits';
  constructor(
    readonly waitMs = 0,
    readonly why?: string,
  ) {
    super(why ?? 'the step waits');
  }
}
