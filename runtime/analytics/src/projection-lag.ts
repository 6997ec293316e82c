/**
 * How far the read models trail the acknowledged events, and the admission control that keeps it
 * bounded. Lag is the age of the oldest batch this process appended to the log that the projector
 * has not applied yet (0 when caught up), tracked from the append times the ingestor reports and
 * the log positions the projector thread reports after each slice — no database query.
 *
 * Memory: one (seq, time) pair per group commit while unprojected, merged with its predecessor
 * when appended within `resolutionMs` of it (so the lag may read up to that much high, never low)
 * and capped at `maxEntries` by the same merging. The default keeps at most 100k pairs (1.6 MB).
 */

export interface ProjectionLagOptions {
  /** Appends closer together than this share one entry. Default 10 ms. */
  resolutionMs?: number;
  /** Upper bound of tracked entries. Default 100000. */
  maxEntries?: number;
}

export class ProjectionLag {
  private seqs: number[] = [];
  private times: number[] = [];
  private head = 0;
  private position = 0;
  private readonly resolutionMs: number;
  private readonly maxEntries: number;
  private waiters: (() => void)[] = [];

  constructor(options: ProjectionLagOptions = {}) {
    this.resolutionMs = options.resolutionMs ?? 10;
    this.maxEntries = options.maxEntries ?? 100_000;
  }

  /** Entries currently tracked (bounded by `maxEntries`). */
  get entries(): number {
    return this.seqs.length - this.head;
  }

  /** The log rows up to `seq` were appended at `at` (ms). */
  appended(seq: number, at = Date.now()): void {
    if (seq <= this.position) return;
    const last = this.seqs.length - 1;
    if (
      last >= this.head &&
      (at - this.times[last]! < this.resolutionMs || this.seqs.length - this.head >= this.maxEntries)
    ) {
      // Extend the newest entry: its (older) time now stands for these rows too.
      this.seqs[last] = Math.max(this.seqs[last]!, seq);
      return;
    }
    this.seqs.push(seq);
    this.times.push(at);
  }

  /** The projector has applied every log row up to `position`. */
  projected(position: number): void {
    if (position <= this.position) return;
    this.position = position;
    while (this.head < this.seqs.length && this.seqs[this.head]! <= position) this.head++;
    // Compact once the consumed prefix dominates, so the arrays do not grow with history.
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** Milliseconds since the oldest unprojected append (0 when the projector is caught up). */
  lagMs(now = Date.now()): number {
    return this.head < this.seqs.length ? Math.max(0, now - this.times[this.head]!) : 0;
  }

  /**
   * Resolves true once the lag is at most `maxLagMs`, or false when it is still above after
   * `maxWaitMs`: ingest slows to the projector's pace instead of letting the read models fall
   * further behind. What a caller does with false is its choice (HTTP ingest refuses with 503 so
   * that what is acknowledged is what the projector sustains; the bus consumer appends anyway).
   *
   * While `stalled()` says the projector cannot write at all (its database is down), ingest is
   * admitted at once: the durable log takes the events and the projector catches up once the
   * database is back, so an outage of the read models does not become an outage of ingest
   * (docs/guides/analytics.md; `bench:outage`). Slowness is throttled; a stall is ridden out.
   */
  async admit(maxLagMs: number, maxWaitMs: number, stalled: () => boolean = () => false): Promise<boolean> {
    if (this.lagMs() <= maxLagMs || stalled()) return true;
    const deadline = Date.now() + maxWaitMs;
    while (this.lagMs() > maxLagMs && !stalled()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        // Woken by the next projector report; the timer re-checks the deadline if none comes.
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}
