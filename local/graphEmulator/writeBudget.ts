/**
 * Graph's write budget for one app in one tenant: at most `limit` writes in any `windowMs`
 * (identity and access: 3,000 per 150 s). A sliding window of accepted writes' times.
 */
export interface WriteBudgetOptions {
  limit: number;
  windowMs: number;
}

export class WriteBudget {
  private readonly accepted: number[] = [];

  constructor(public options: WriteBudgetOptions) {}

  /** Takes one write, or says how long until one is free (for Retry-After). */
  take(now: number): { ok: true; usedShare: number } | { ok: false; retryAfterMs: number } {
    this.forget(now);
    if (this.accepted.length >= this.options.limit) {
      return { ok: false, retryAfterMs: Math.max(1, this.accepted[0]! + this.options.windowMs - now) };
    }
    this.accepted.push(now);
    return { ok: true, usedShare: this.accepted.length / this.options.limit };
  }

  left(now: number): number {
    this.forget(now);
    return this.options.limit - this.accepted.length;
  }

  private forget(now: number): void {
    while (this.accepted.length > 0 && this.accepted[0]! <= now - this.options.windowMs) this.accepted.shift();
  }
}
