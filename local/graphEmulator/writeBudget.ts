/**
 * Graph's write budget for one app in one tenant, in the shapes a real limit may have (Graph
 * documents none for /invitations, and says a 429 may come before any documented limit):
 * - `sliding` (default): at most `limit` writes in any `windowMs` (identity and access: 3,000 per
 *   150 s; or a strict 20 per 1 s);
 * - `tokenBucket`: a bucket of `limit` writes, refilled evenly over `windowMs`.
 * Another app of the same tenant may take part of the budget from a given moment, and on request
 * a share of calls is refused before the limit.
 */
export interface WriteBudgetOptions {
  limit: number;
  windowMs: number;
  /** @default 'sliding' */
  shape?: 'sliding' | 'tokenBucket';
  /** Another app of the tenant that, from `from` (epoch ms), writes `writesPerSecond` against the same budget. */
  otherApp?: { writesPerSecond: number; from: number };
  /** Share (0–1) of calls answered 429 although the budget has room. */
  earlyThrottleShare?: number;
}

export type BudgetAnswer = { ok: true; usedShare: number } | { ok: false; retryAfterMs: number };

export class WriteBudget {
  private readonly accepted: number[] = [];
  private tokens: number;
  private refilledAt: number | undefined;
  private otherAppUntil: number | undefined;
  /** The other app's writes refused so far: it retries them, first, as soon as there is room. */
  private otherAppOwed = 0;

  constructor(public options: WriteBudgetOptions) {
    this.tokens = options.limit;
  }

  /** Takes one write, or says how long until one is free (for Retry-After). */
  take(now: number): BudgetAnswer {
    this.playOtherApp(now);
    if (this.options.earlyThrottleShare && Math.random() < this.options.earlyThrottleShare) return { ok: false, retryAfterMs: 1_000 };
    return this.takeOne(now);
  }

  left(now: number): number {
    this.playOtherApp(now);
    if (this.shape === 'tokenBucket') {
      this.refill(now);
      return Math.floor(this.tokens);
    }
    this.forget(now);
    return this.options.limit - this.accepted.length;
  }

  private get shape() {
    return this.options.shape ?? 'sliding';
  }

  private takeOne(now: number): BudgetAnswer {
    const { limit, windowMs } = this.options;
    if (this.shape === 'tokenBucket') {
      this.refill(now);
      if (this.tokens < 1) return { ok: false, retryAfterMs: Math.max(1, ((1 - this.tokens) * windowMs) / limit) };
      this.tokens -= 1;
      return { ok: true, usedShare: 1 - this.tokens / limit };
    }
    this.forget(now);
    if (this.accepted.length >= limit) return { ok: false, retryAfterMs: Math.max(1, this.accepted[0]! + windowMs - now) };
    this.accepted.push(now);
    return { ok: true, usedShare: this.accepted.length / limit };
  }

  /**
   * The other app's writes since we last looked, evenly spaced. It is a client like us: a write
   * refused is retried, ahead of its new ones, as soon as there is room; so it gets its rate
   * whatever we do, and we get what it leaves.
   */
  private playOtherApp(now: number): void {
    const other = this.options.otherApp;
    if (!other || now < other.from) return;
    const interval = 1000 / other.writesPerSecond;
    let at = this.otherAppUntil ?? other.from;
    for (; at <= now; at += interval) {
      this.otherAppOwed += 1;
      while (this.otherAppOwed > 0 && this.takeOne(at).ok) this.otherAppOwed -= 1;
    }
    this.otherAppUntil = at;
    while (this.otherAppOwed > 0 && this.takeOne(now).ok) this.otherAppOwed -= 1;
  }

  private refill(now: number): void {
    const { limit, windowMs } = this.options;
    if (this.refilledAt !== undefined) this.tokens = Math.min(limit, this.tokens + ((now - this.refilledAt) * limit) / windowMs);
    this.refilledAt = now;
  }

  private forget(now: number): void {
    while (this.accepted.length > 0 && this.accepted[0]! <= now - this.options.windowMs) this.accepted.shift();
  }
}
