/**
 * Pacing shared by every concurrent invocation in a process, so that the process as a whole
 * stays inside Graph's write budget:
 * - calls start at most `maxWritesPerSecond`, evenly spaced (3,000 writes per 150 s = 20/s);
 * - a 429 pauses every new call (and every call still waiting) until its Retry-After has passed;
 * - x-ms-throttle-limit-percentage (Graph sends it above 80% of a limit) stretches the spacing
 *   for a while, so that 429s are avoided rather than met (see observeLimitPercentage).
 */

export class WaitBeyondDeadlineError extends Error {
  override readonly name = 'WaitBeyondDeadlineError';
  constructor(readonly waitMs: number) {
    super(`Graph's budget allows the next call in ${Math.ceil(waitMs)} ms, after this invocation's deadline.`);
  }
}

const SLOW_DOWN_FOR_MS = 10_000;
const MAX_SLOW_DOWN = 4;

export class GraphPacer {
  private nextSlotAt = 0;
  private pausedUntil = 0;
  private slowFactor = 1;
  private slowUntil = 0;

  constructor(
    private readonly maxWritesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Waits for this call's turn; throws WaitBeyondDeadlineError (taking no turn) if it comes after `deadline`. */
  async acquire(deadline: number): Promise<void> {
    for (;;) {
      const now = this.now();
      const slot = Math.max(now, this.nextSlotAt, this.pausedUntil);
      if (slot > deadline) throw new WaitBeyondDeadlineError(slot - now);
      this.nextSlotAt = slot + this.intervalMs(now);
      await sleep(slot - now);
      // A 429 that came while we waited: take a new turn after the pause, so the calls that were
      // waiting resume paced rather than all at once.
      if (this.pausedUntil <= this.now()) return;
    }
  }

  /** A 429 with Retry-After: nobody in this process calls before it has passed. */
  pause(retryAfterMs: number): void {
    const until = this.now() + retryAfterMs;
    this.pausedUntil = Math.max(this.pausedUntil, until);
    this.nextSlotAt = Math.max(this.nextSlotAt, this.pausedUntil);
  }

  /**
   * x-ms-throttle-limit-percentage from a response (0.8 = 80% of a limit used; Graph sends it from
   * 0.8 up to 1.8). Running at the configured rate fills a window to 100% by design (3,000 writes
   * per 150 s at 20/s), so up to 1.0 we ease off by at most 1%, just clear of the edge; above 1.0
   * the limit is being shared (the tenant's 18,000 writes per 5 min, other apps) and we slow down
   * in proportion, for a while, before 429s come.
   */
  observeLimitPercentage(percentage: number): void {
    if (!(percentage >= 0.8)) return;
    const factor = percentage <= 1 ? 1 + (percentage - 0.8) * 0.05 : percentage + 0.05;
    this.slowFactor = Math.min(MAX_SLOW_DOWN, Math.max(this.slowFactor, factor));
    this.slowUntil = this.now() + SLOW_DOWN_FOR_MS;
  }

  get pausedForMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  private intervalMs(now: number): number {
    if (now > this.slowUntil) this.slowFactor = 1;
    return (1000 / this.maxWritesPerSecond) * this.slowFactor;
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
