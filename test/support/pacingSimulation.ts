import { GraphPacer, type PacerTimer } from '../../shared/graph/graphPacer';
import { WriteBudget, type WriteBudgetOptions } from '../../local/graphEmulator/writeBudget';

/**
 * A discrete-event simulation of worker processes calling a Graph write budget, on a fake clock:
 * each process has its own GraphPacer and `callers` invocations in flight; every call arrives at
 * Graph at its turn, is answered `latencyMs` later (201, or 429 with a whole-second Retry-After and
 * x-ms-throttle-limit-percentage above 80%, as the emulator answers), and the caller then takes
 * its next person (or retries the throttled one after Retry-After). Each process runs the pacer's
 * own loop (acquire, its turns and its timer) on the fake clock, so what is simulated is the code
 * that runs. Deterministic and fast: minutes of pacing are checked in milliseconds.
 */

export interface SimulationOptions {
  budget: WriteBudgetOptions;
  processes: number;
  maxWritesPerSecond: number;
  durationMs: number;
  /** @default 300 */
  latencyMs?: number;
  /** Invocations in flight per process. @default 8 */
  callers?: number;
  /** Each process's share of the app's budget (rateShares.ts): one for all, or one per process. @default 1 */
  share?: number | readonly number[];
  /** Process i starts at (i × staggerMs) mod 1 s, as processes started apart do: their turns fall out of step. @default 0 */
  staggerMs?: number;
  /**
   * A loaded machine: each process stalls now and then (another process has the core, a garbage
   * collection), and whatever fell due meanwhile (a timer for a turn, an answer) runs when the stall
   * ends, late and bunched. Stalls come on average every `meanEveryMs` and last on average
   * `meanLengthMs` (both exponential), drawn from `seed`. @default none: timers are exact
   */
  stalls?: { meanEveryMs: number; meanLengthMs: number; seed?: number };
}

export interface SimulatedCall {
  at: number;
  process: number;
  accepted: boolean;
}

export async function simulatePacing(options: SimulationOptions): Promise<{ calls: SimulatedCall[]; pacers: GraphPacer[] }> {
  let now = 0;
  const budget = new WriteBudget(options.budget);
  const latency = options.latencyMs ?? 300;
  const late = stallsOf(options);
  type Event = {
    at: number;
    process: number;
    kind: 'ready' | 'timer' | 'arrive' | 'answer';
    /** For a timer: what the pacer asked to run, unless it cleared it since. */
    wake?: () => void;
    cleared?: boolean;
    call?: SimulatedCall;
    retryAfterMs?: number;
    usedShare?: number;
  };
  const events: Event[] = [];
  const schedule = (event: Event) => {
    const index = events.findIndex((other) => other.at > event.at);
    events.splice(index < 0 ? events.length : index, 0, event);
    return event;
  };
  // Each pacer's own loop runs (GraphPacer.acquire and its dispatch); its timer is an event on the
  // fake clock, which a stalled process runs late.
  const timerOf = (process: number): PacerTimer => ({
    set: (wake, ms) => schedule({ at: late(process, now + ms), process, kind: 'timer', wake }),
    clear: (event) => {
      if (event) (event as Event).cleared = true;
    },
  });
  const pacers = Array.from({ length: options.processes }, (_, process) => {
    const pacer = new GraphPacer({ maxWritesPerSecond: options.maxWritesPerSecond, now: () => now, timer: timerOf(process) });
    const share = typeof options.share === 'number' ? options.share : options.share?.[process];
    if (share !== undefined) pacer.setShare(share);
    return pacer;
  });
  const calls: SimulatedCall[] = [];
  for (let process = 0; process < options.processes; process += 1) {
    for (let caller = 0; caller < (options.callers ?? 8); caller += 1)
      schedule({ at: options.staggerMs ? (process * options.staggerMs) % 1000 : 0, process, kind: 'ready' });
  }
  while (events.length > 0) {
    const event = events.shift()!;
    now = event.at;
    if (now > options.durationMs) break;
    const pacer = pacers[event.process]!;
    if (event.kind === 'ready') {
      // The call goes to Graph when the pacer gives it its turn, at the time of that turn.
      void pacer.acquire(Number.POSITIVE_INFINITY).then(() => schedule({ at: now, process: event.process, kind: 'arrive' }));
    } else if (event.kind === 'timer') {
      if (!event.cleared) event.wake!();
    } else if (event.kind === 'arrive') {
      const answer = budget.take(now);
      const call = { at: now, process: event.process, accepted: answer.ok };
      calls.push(call);
      schedule({
        at: late(event.process, now + latency),
        process: event.process,
        kind: 'answer',
        call,
        ...(answer.ok ? { usedShare: answer.usedShare } : { retryAfterMs: Math.ceil(answer.retryAfterMs / 1000) * 1000 }),
      });
    } else if (event.call!.accepted) {
      const share = event.usedShare!;
      pacer.accepted(share > 0.8 ? Math.round(share * 10) / 10 : undefined);
      schedule({ at: now, process: event.process, kind: 'ready' });
    } else {
      pacer.throttled(event.retryAfterMs);
      schedule({ at: late(event.process, now + event.retryAfterMs!), process: event.process, kind: 'ready' });
    }
    // The turns handed out in this event resolve their calls' promises: let them schedule their calls
    // before the clock moves on.
    await Promise.resolve();
  }
  return { calls, pacers };
}

/** When a process gets to run something due at `at`: then, or at the end of the stall it is in. */
function stallsOf(options: SimulationOptions): (process: number, at: number) => number {
  if (!options.stalls) return (_, at) => at;
  const { meanEveryMs, meanLengthMs, seed = 1 } = options.stalls;
  const random = mulberry32(seed);
  const exponential = (mean: number) => -mean * Math.log(1 - random());
  const stalls = Array.from({ length: options.processes }, () => {
    const spans: [number, number][] = [];
    for (let at = exponential(meanEveryMs); at < options.durationMs; at += exponential(meanEveryMs)) {
      const length = exponential(meanLengthMs);
      spans.push([at, at + length]);
      at += length;
    }
    return spans;
  });
  return (process, at) => stalls[process]!.find(([from, to]) => at >= from && at < to)?.[1] ?? at;
}

/** A small seeded generator: the same stalls every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Accepted calls per second and the share answered 429, between two times. */
export function rateBetween(calls: readonly SimulatedCall[], from: number, to: number, process?: number) {
  const within = calls.filter((call) => call.at >= from && call.at < to && (process === undefined || call.process === process));
  const accepted = within.filter((call) => call.accepted).length;
  return { rate: accepted / ((to - from) / 1000), throttledShare: within.length === 0 ? 0 : (within.length - accepted) / within.length };
}
