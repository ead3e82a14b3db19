/**
 * Group commit: writes to one key that arrive while a write to that key is in flight wait for it,
 * then go together in the next one. Every change of status in a batch moves the counts on the
 * batch's one row under its ETag (batchLedger.ts); with dozens of invocations each committing its
 * own change, all but one lose the race each round and read and commit again, so storage work grew
 * with the square of the calls in flight (a two-process run measured six conflicts per commit). One
 * commit in flight per batch and process, carrying everything that waited, removes the race within
 * a process and leaves one writer per process between processes.
 */
export class GroupCommit<Item, Result> {
  private readonly waiting = new Map<string, { item: Item; settle: Settle<Result> }[]>();
  private readonly inFlight = new Set<string>();

  /**
   * @param commit writes a group for one key and returns each item's result, in order; if it throws,
   *   every item of the group fails with its error.
   * @param take how many of the waiting items (in order) the next group takes (at least one).
   */
  constructor(
    private readonly commit: (key: string, items: Item[]) => Promise<Result[]>,
    private readonly take: (waiting: readonly Item[]) => number = (waiting) => waiting.length,
  ) {}

  /** Resolves once `item` has been written, in this group or a later one. */
  write(key: string, item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const waiting = this.waiting.get(key) ?? [];
      waiting.push({ item, settle: { resolve, reject } });
      this.waiting.set(key, waiting);
      if (!this.inFlight.has(key)) void this.drain(key);
    });
  }

  private async drain(key: string): Promise<void> {
    this.inFlight.add(key);
    try {
      for (let waiting = this.waiting.get(key); waiting && waiting.length > 0; waiting = this.waiting.get(key)) {
        const count = Math.max(1, Math.min(waiting.length, this.take(waiting.map((entry) => entry.item))));
        const group = waiting.splice(0, count);
        if (waiting.length === 0) this.waiting.delete(key);
        try {
          const results = await this.commit(
            key,
            group.map((entry) => entry.item),
          );
          group.forEach((entry, index) => entry.settle.resolve(results[index]!));
        } catch (error) {
          for (const entry of group) entry.settle.reject(error);
        }
      }
    } finally {
      this.inFlight.delete(key);
    }
  }
}

interface Settle<Result> {
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}
