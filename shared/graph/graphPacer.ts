/**
 * Pacing shared by every concurrent invocation in a process, adapted to the capacity Graph
 * actually grants. Graph documents no limit for /invitations, shares its identity-and-access
 * limits with every app of the tenant, and may throttle before any documented limit; so the rate
 * is learned from Graph's answers rather than assumed:
 * - calls start evenly spaced at `rate` writes/s, never above the ceiling (GRAPH_MAX_WRITES_PER_SECOND
 *   times this instance's share of the app's budget, see rateShares.ts);
 * - a 429 marks the rate at which Graph said no (`knownLimit`) and drops the rate under it (see throttled);
 *   x-ms-throttle-limit-percentage above 100% does the same in proportion, before any 429;
 * - every accepted call lets the rate grow back: quickly up to just under the known limit, then
 *   only slowly past it (probing whether Graph grants more), and steadily again once no signal has
 *   come for LIMIT_MEMORY_MS (the other app that took part of the budget may have gone), unless
 *   that limit is about the ceiling itself;
 * - a 429 with a long Retry-After (the budget is spent for a while) pauses every call; a short
 *   one (a one-second window) only slows the rate, so one 429 does not cost the whole process a second.
 * Waiting calls take their turns one after the other, each one interval at the rate of the moment
 * after the one before, so a change of rate applies to every call still waiting: turns booked ahead
 * at the rate of their booking kept a slow start slow, and a 429's slower rate waited for every call
 * already booked, for up to a batch's worth of turns (several seconds at a small share).
 */

export class WaitBeyondDeadlineError extends Error {
  override readonly name = 'WaitBeyondDeadlineError';
  constructor(readonly waitMs: number) {
    super(`Graph's budget allows the next call in ${Math.ceil(waitMs)} ms, after this invocation's deadline.`);
  }
}

export interface GraphPacerOptions {
  /** GRAPH_MAX_WRITES_PER_SECOND: the rate is never above it (times this instance's share). */
  maxWritesPerSecond: number;
  /** @default Date.now */
  now?: () => number;
  /**
   * What wakes the pacer when the next turn falls due. A simulation on a fake clock
   * (test/support/pacingSimulation.ts) gives its own, and so runs this very loop.
   * @default setTimeout and clearTimeout
   */
  timer?: PacerTimer;
  /**
   * The rate to start at, in writes per second: a process that has just started does not yet know
   * how many others share the budget, so it starts low and grows quickly (a slow start).
   * @default a quarter of maxWritesPerSecond
   */
  initialRate?: number;
}

// A 429 cuts the rate to 85% of what drew it.
const DECREASE = 0.85;
// One decrease per this long: the calls already in flight when Graph said no will say no too.
const DECREASE_HOLDOFF_MS = 1_000;
// Fast growth runs up to this share of the known limit, at FAST_GROWTH of the rate per second.
const SAFE_SHARE_OF_LIMIT = 0.97;
const FAST_GROWTH = 0.5;
// Past it, the rate probes upwards at PROBE_GROWTH of the rate per second.
const PROBE_GROWTH = 0.001;
// Near a limit Graph has not yet shown us exactly (x-ms-throttle-limit-percentage of 90% or more,
// or one second's count after a drop): approach it at this pace.
const NEAR_LIMIT_GROWTH = 0.05;
// Refused at about our own rate: that rate is the limit; hold this share of it.
const AT_LIMIT_HOLD = 0.98;
// A known limit with no signal for this long is forgotten: capacity may have come back.
const LIMIT_MEMORY_MS = 30_000;
// ...unless it is at least this share of the ceiling: forgetting it could win back a few percent
// at most, at the price of a 429 each time (see accepted).
const KEEP_LIMIT_NEAR_CEILING = 0.95;
// Retry-After up to this long slows the rate only; longer, and every call waits for it.
const PAUSE_ALL_AFTER_MS = 1_000;
const MIN_RATE = 0.2;
// What Graph accepted is counted over at most this long (see throttled).
const MAX_MEASURE_MS = 5_000;
const MEASURED_CALLS = 20;
// Start at this share of the ceiling: instances that start together learn of each other within a heartbeat.
const INITIAL_SHARE = 0.25;
// A turn taken up to this share of an interval late (a timer fires late) keeps the pace it was due
// at; later than that (the process stalled), the time is lost rather than made up in a burst.
const LATE_TOLERANCE = 0.25;

export interface PacerTimer {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMER: PacerTimer = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};

interface WaitingCall {
  since: number;
  deadline: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class GraphPacer {
  /** The current rate, in writes per second. */
  rate: number;
  private share = 1;
  private knownLimit = Number.POSITIVE_INFINITY;
  /** Whether Graph has refused us at about the known limit itself (else it is one second's measure, a lower bound). */
  private limitConfirmed = true;
  /** Whether a known limit was forgotten (LIMIT_MEMORY_MS) and the rate is growing back towards the ceiling. */
  private regaining = false;
  private lastSignalAt = Number.NEGATIVE_INFINITY;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  private lastGrowthAt: number | undefined;
  /** When the last turn was due (not when it was taken): the next is due one interval later. */
  private lastTurnDueAt = Number.NEGATIVE_INFINITY;
  private pausedUntil = 0;
  private readonly waiting: WaitingCall[] = [];
  private turnTimer: unknown;
  /** When Graph accepted our calls, over the last MAX_MEASURE_MS: the capacity it grants us, measured. */
  private readonly recentAccepts: number[] = [];
  private firstAcceptAt: number | undefined;
  /** When a call last waited for its turn: whether this process wants more than it gets. */
  lastDemandAt = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;
  private readonly timer: PacerTimer;
  private readonly demandListeners: (() => void)[] = [];

  constructor(private readonly options: GraphPacerOptions) {
    this.now = options.now ?? Date.now;
    this.timer = options.timer ?? REAL_TIMER;
    this.rate = Math.min(options.initialRate ?? options.maxWritesPerSecond * INITIAL_SHARE, options.maxWritesPerSecond);
  }

  /** GRAPH_MAX_WRITES_PER_SECOND: the app's ceiling, shared by its instances. */
  get maxWritesPerSecond(): number {
    return this.options.maxWritesPerSecond;
  }

  /** This instance's ceiling: GRAPH_MAX_WRITES_PER_SECOND times its share of the app's budget. */
  get ceiling(): number {
    return this.options.maxWritesPerSecond * this.share;
  }

  /** This instance's share (0–1] of the app's budget (rateShares.ts). */
  setShare(share: number): void {
    const next = Math.min(1, Math.max(share, 0.001));
    if (next > this.share) {
      // A larger share (an instance left or went idle): the rate and the limit learned under the old
      // one scale with it, since what held for part of the budget holds for the larger part.
      // Forgetting the limit instead let each such change grow the rate to the ceiling, into 429s.
      const scale = next / this.share;
      this.knownLimit *= scale;
      this.rate *= scale;
    } else if (next < this.share) {
      // A smaller share (an instance joined): a limit learned while this instance counted on more was
      // learned among the newcomer's calls, and says little about the new share.
      this.knownLimit = Number.POSITIVE_INFINITY;
    }
    this.share = next;
    this.rate = Math.min(this.rate, this.ceiling);
    this.dispatch();
  }

  /** Waits for this call's turn; rejects with WaitBeyondDeadlineError (taking no turn) if it comes after `deadline`. */
  acquire(deadline: number): Promise<void> {
    const now = this.noteDemand();
    // Where this call would stand if the rate held: past the deadline, it need not wait to learn so.
    const expected = this.turnDueAt(now) + (this.waiting.length * 1000) / this.rate;
    if (expected > deadline) return Promise.reject(new WaitBeyondDeadlineError(expected - now));
    return new Promise((resolve, reject) => {
      this.waiting.push({ since: now, deadline, resolve, reject });
      this.dispatch();
    });
  }

  /** Tells `listener` whenever a call asks for a turn (rateShares.ts starts its heartbeat so). */
  onDemand(listener: () => void): void {
    this.demandListeners.push(listener);
  }

  /** Notes that a call wants a turn (for the share heartbeat, rateShares.ts); returns the time. */
  noteDemand(): number {
    const now = this.now();
    this.lastDemandAt = now;
    for (const listener of this.demandListeners) listener();
    return now;
  }

  /** When the next turn is due: one interval at the current rate after the last, and not before a long Retry-After ends. */
  turnDueAt(now: number): number {
    return Math.max(now, this.nextBeatAt);
  }

  /** One interval at the current rate after the last turn was due, and not before a long Retry-After ends. */
  private get nextBeatAt(): number {
    return Math.max(this.lastTurnDueAt + 1000 / this.rate, this.pausedUntil);
  }

  /** Takes the turn due now (turnDueAt(now) <= now) for a call that has waited since `since`. */
  private takeTurn(now: number, since: number): void {
    // Paced from when the turn was due, so ordinary timer lateness does not slow the rate; from when
    // the call came, if it came after (no burst after idling); within LATE_TOLERANCE of now, so a
    // stalled process does not make up the lost time in a burst.
    this.lastTurnDueAt = Math.max(this.nextBeatAt, since, now - (LATE_TOLERANCE * 1000) / this.rate);
  }

  /** Hands out the turns that are due, and sets a timer for the next one. Called whenever the rate may have changed. */
  private dispatch(): void {
    this.timer.clear(this.turnTimer);
    this.turnTimer = undefined;
    const now = this.now();
    for (let call = this.waiting[0]; call; call = this.waiting[0]) {
      const due = this.turnDueAt(now);
      if (due > call.deadline) {
        this.waiting.shift();
        call.reject(new WaitBeyondDeadlineError(due - now));
      } else if (due > now) {
        this.turnTimer = this.timer.set(() => this.dispatch(), due - now);
        return;
      } else {
        this.waiting.shift();
        this.takeTurn(now, call.since);
        call.resolve();
      }
    }
  }

  /** Graph accepted a call; with x-ms-throttle-limit-percentage when it sent one (0.8 = 80% of a limit used). */
  accepted(limitPercentage?: number): void {
    const now = this.now();
    this.firstAcceptAt ??= now;
    this.recentAccepts.push(now);
    while (this.recentAccepts[0]! <= now - MAX_MEASURE_MS) this.recentAccepts.shift();
    const elapsedSeconds = Math.min(1, (now - (this.lastGrowthAt ?? now)) / 1000);
    this.lastGrowthAt = now;
    if (limitPercentage !== undefined && limitPercentage > 1) {
      // Over a limit (shared with other apps, or the tenant's): slow down in proportion, before 429s come.
      this.decrease(this.rate / (limitPercentage + 0.05), now);
      this.dispatch();
      return;
    }
    // A limit about at the ceiling is kept (probing still tests it): forgotten, the rate grew straight
    // back to the ceiling and met the same 429, once per LIMIT_MEMORY_MS per instance, so eight
    // instances at their whole-number shares of a strict window met eight times the 429s of one.
    const forgettable = this.knownLimit < this.ceiling * KEEP_LIMIT_NEAR_CEILING;
    if (now - this.lastSignalAt > LIMIT_MEMORY_MS && forgettable) {
      this.knownLimit = Number.POSITIVE_INFINITY;
      // Regain at the near-limit pace, not the slow start's: the other app may still be there, and
      // a burst into its retries costs seconds of refusals, not one.
      this.regaining = true;
    }
    // Close to a limit we know nothing of yet: approach it gently. The share Graph reports counts every
    // app's writes and is rounded to a tenth, so it says where the limit is only roughly; a 429 says exactly.
    const nearUnknownLimit = limitPercentage !== undefined && limitPercentage >= 0.9 && this.knownLimit === Number.POSITIVE_INFINITY;
    const safe = this.knownLimit * SAFE_SHARE_OF_LIMIT;
    // Probing is the app's, not each instance's: instances that each probed at PROBE_GROWTH would
    // together grow as fast as one, while a 429 slows only the one instance it reaches, so the app
    // would meet one 429 for every instance where one alone meets one. Scaled by the share, the
    // instances together probe as one.
    const beyondSafe = this.limitConfirmed ? PROBE_GROWTH * this.share : NEAR_LIMIT_GROWTH;
    const growth = this.rate >= safe ? beyondSafe : nearUnknownLimit || this.regaining ? NEAR_LIMIT_GROWTH : FAST_GROWTH;
    let next = this.rate * (1 + growth * elapsedSeconds);
    if (this.rate < safe) next = Math.min(next, Math.max(safe, this.rate));
    this.rate = Math.min(this.ceiling, next);
    this.dispatch();
  }

  /**
   * Graph answered 429. With a short Retry-After (a short window), what Graph accepted in the last
   * second tells the capacity it grants us now: when it is far below our rate (another app has
   * arrived), the limit is set to it and the rate to just under it, at once, rather than step by
   * step while every step draws more 429s; when it is about our rate, our rate is the limit, and
   * the rate drops just under it. Without a measure, the rate drops by DECREASE; a long Retry-After
   * pauses every call.
   */
  throttled(retryAfterMs: number | undefined): void {
    const now = this.now();
    const wait = retryAfterMs ?? PAUSE_ALL_AFTER_MS;
    // Counted over at least a second, and long enough to hold about MEASURED_CALLS calls: 10/s
    // counted over one second is 8 to 11 with ordinary jitter, too coarse to tell a drop from noise.
    const measureMs = Math.min(MAX_MEASURE_MS, Math.max(1_000, (MEASURED_CALLS / this.rate) * 1_000));
    const granted = (this.recentAccepts.filter((at) => at > now - measureMs).length * 1_000) / measureMs;
    const measurable =
      this.firstAcceptAt !== undefined && now - this.firstAcceptAt >= measureMs && wait <= PAUSE_ALL_AFTER_MS && granted > 0;
    // Graph took far less than we sent: the capacity has dropped to about what it took. One second's
    // count is a lower bound, so the rate may then grow past it at the near-limit pace until Graph
    // refuses us at about our own rate, which confirms the limit.
    if (measurable && granted < this.rate * DECREASE) {
      if (this.decrease(granted * SAFE_SHARE_OF_LIMIT, now, granted)) this.limitConfirmed = false;
    } else if (measurable) {
      // Graph took about what we sent: this rate is the limit; hold just under it.
      if (this.decrease(this.rate * AT_LIMIT_HOLD, now, this.rate)) this.limitConfirmed = true;
    } else if (this.decrease(this.rate * DECREASE, now, this.rate)) this.limitConfirmed = true;
    if (wait > PAUSE_ALL_AFTER_MS) {
      this.pausedUntil = Math.max(this.pausedUntil, now + wait);
    }
    this.dispatch();
  }

  /** How long every call still waits for a long Retry-After. */
  get pausedForMs(): number {
    return Math.max(0, this.pausedUntil - this.now());
  }

  /** Lowers the rate to `to` and sets the known limit, at most once per DECREASE_HOLDOFF_MS; says whether it did. */
  private decrease(to: number, now: number, limit = to): boolean {
    this.lastSignalAt = now;
    if (now - this.lastDecreaseAt < DECREASE_HOLDOFF_MS) return false;
    this.lastDecreaseAt = now;
    this.regaining = false;
    this.knownLimit = limit;
    this.rate = Math.max(MIN_RATE, Math.min(this.rate, to));
    return true;
  }
}
