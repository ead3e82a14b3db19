import { GraphCallError } from './graphCallError';
import type { WriteAnswer } from './graphDirectoryClient';
import type { GraphPacer } from './graphPacer';

/**
 * One identity write beside the invitations (a group add, a PATCH, a DELETE) in its turn of the
 * app's write budget, which Graph counts as one for all of them (3,000 per 150 s per app and
 * tenant). Its answer teaches the pacer as an invitation's does: x-ms-throttle-limit-percentage
 * slows every caller before a 429 comes, a 429 slows every caller and says for how long. Throws
 * WaitBeyondDeadlineError when no turn comes before the deadline, and Graph's error as it came.
 */
export async function pacedWrite<Answer extends WriteAnswer>(
  pacer: Pick<GraphPacer, 'acquire' | 'accepted' | 'throttled'> | undefined,
  deadline: number,
  write: () => Promise<Answer>,
): Promise<Answer> {
  await pacer?.acquire(deadline);
  try {
    const answer = await write();
    pacer?.accepted(answer.throttleLimitPercentage);
    return answer;
  } catch (error) {
    if (error instanceof GraphCallError && error.kind === 'throttled') pacer?.throttled(error.retryAfterMs);
    throw error;
  }
}
