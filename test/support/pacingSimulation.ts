import { GraphPacer } from '../../shared/graph/graphPacer';
import { WriteBudget, type WriteBudgetOptions } from '../../local/graphEmulator/writeBudget';

/**
 * A discrete-event simulation of worker processes calling a Graph write budget, on a fake clock:
 * each process has its own GraphPacer and `callers` invocations in flight; every call arrives at
 * Graph at its turn, is answered `latencyMs` later (201, or 429 with a whole-second Retry-After and
 * x-ms-throttle-limit-percentage above 80%, as the emulator answers), and the caller then takes
 * its next person (or retries the throttled one after Retry-After). Deterministic and instant:
 * minutes of pacing are checked in milliseconds.
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

export function simulatePacing(options: SimulationOptions): { calls: SimulatedCall[]; pacers: GraphPacer[] } {
  let now = 0;
  const budget = new WriteBudget(options.budget);
  const latency = options.latencyMs ?? 300;
  const pacers = Array.from({ length: options.processes }, (_, process) => {
    const pacer = new GraphPacer({ maxWritesPerSecond: options.maxWritesPerSecond, now: () => now });
    const share = typeof options.share === 'number' ? options.share : options.share?.[process];
    if (share !== undefined) pacer.setShare(share);
    return pacer;
  });
  const late = stallsOf(options);
  const calls: SimulatedCall[] = [];
  type Event = {
    at: number;
    process: number;
    kind: 'ready' | 'turn' | 'arrive' | 'answer';
    /** For a turn: which of the process's timers this is; a timer set again replaces it. */
    timer?: number;
    call?: SimulatedCall;
    retryAfterMs?: number;
    usedShare?: number;
  };
  const events: Event[] = [];
  const schedule = (event: Event) => {
    const index = events.findIndex((other) => other.at > event.at);
    events.splice(index < 0 ? events.length : index, 0, event);
  };
  // Each process's calls waiting for a turn (since when), and its one turn timer, as GraphPacer.acquire keeps them.
  const waiting = pacers.map(() => [] as number[]);
  const timers = pacers.map(() => 0);
  const dispatch = (process: number) => {
    const pacer = pacers[process]!;
    timers[process] = timers[process]! + 1;
    while (waiting[process]!.length > 0) {
      const due = pacer.turnDueAt(now);
      if (due > now) {
        schedule({ at: late(process, due), process, kind: 'turn', timer: timers[process] });
        return;
      }
      pacer.takeTurn(now, waiting[process]!.shift());
      schedule({ at: now, process, kind: 'arrive' });
    }
  };
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
      waiting[event.process]!.push(now);
      dispatch(event.process);
      continue;
    }
    if (event.kind === 'turn') {
      if (event.timer === timers[event.process]) dispatch(event.process);
      continue;
    }
    if (event.kind === 'arrive') {
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
      continue;
    }
    if (event.call!.accepted) {
      const share = event.usedShare!;
      pacer.accepted(share > 0.8 ? Math.round(share * 10) / 10 : undefined);
      schedule({ at: now, process: event.process, kind: 'ready' });
    } else {
      pacer.throttled(event.retryAfterMs);
      schedule({ at: late(event.process, now + event.retryAfterMs!), process: event.process, kind: 'ready' });
    }
    // The rate may have changed: the pacer hands out turns again.
    dispatch(event.process);
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
