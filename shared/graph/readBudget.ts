/**
 * The app's reads of users, paced in one process: every GET of a user, alone or inside a `$batch`,
 * costs one resource unit of Graph's identity budget (3,500 / 5,000 / 8,000 per 10 s per app and
 * tenant, by tenant size). The tracker's batches, the lookups after a crash, the sponsors' check and
 * an operator's reset all take their units here, so reads stay within GRAPH_MAX_READS_PER_SECOND
 * (40, far below even a small tenant's 350 a second) however they add up.
 */
export class ReadBudget {
  private nextReadAt = 0;

  constructor(private readonly readsPerSecond: number) {}

  /** Waits until `units` more reads fit. */
  async take(units: number): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.nextReadAt);
    this.nextReadAt = at + (units * 1000) / this.readsPerSecond;
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}
