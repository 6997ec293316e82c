/**
 * How far the read models trail the acknowledged events, and the admission control that keeps it
 * bounded. Lag is the age of the oldest batch this process appended to the log that the projector
 * has not applied yet (0 when caught up), tracked from the append times the ingestor reports and
 * the log positions the projector thread reports after each slice — no database query.
 *
 * The age alone does not bound the lag: everything admitted while the lag is under the threshold
 * becomes one projector slice, and rows appended while a slice runs wait for it and for their own,
 * so the lag peaks near the sum of two slices' durations. A burst of half a second at full ingest
 * was a 50,000-event slice of up to 1.9 s late in a soak, and the lag read 2–3 s. So admission
 * also caps the events that no slice has taken yet (`backlogEvents`), which is the size of the
 * next slice. Those the running slice has taken do not count: a cap on every unapplied event let
 * ingest fill the next slice only with what the running one left of the cap, and halved
 * acknowledged bursts.
 *
 * Memory: one (seq, time, events) entry per group commit while unprojected, merged with its
 * predecessor when appended within `resolutionMs` of it (so the lag may read up to that much high,
 * never low) and capped at `maxEntries` by the same merging (+1 while every entry is taken). The
 * default keeps at most 100k entries (2.4 MB).
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
  /** Events per entry (merged entries add up). */
  private counts: number[] = [];
  /** Events of the entries from `takenHead` on: appended, not yet taken by a slice. */
  private waiting = 0;
  /** First entry not applied, and first entry not wholly taken by a slice (>= head). */
  private head = 0;
  private takenHead = 0;
  private position = 0;
  private takenPosition = 0;
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

  /**
   * Events appended that no slice has taken yet, as reported to `appended` (rows of earlier runs
   * count 0; an entry a slice took only part of counts whole, so this reads high, never low).
   */
  get backlogEvents(): number {
    return this.waiting;
  }

  /** The log rows up to `seq`, holding `events` events, were appended at `at` (ms). */
  appended(seq: number, at = Date.now(), events = 0): void {
    if (seq <= this.position) return;
    // Rows a slice already read are not waiting (the thread's report overtook the append's).
    const counted = seq > this.takenPosition ? events : 0;
    this.waiting += counted;
    const last = this.seqs.length - 1;
    if (
      last >= this.head &&
      last >= this.takenHead &&
      (at - this.times[last]! < this.resolutionMs || this.seqs.length - this.head >= this.maxEntries)
    ) {
      // Extend the newest entry: its (older) time now stands for these rows too.
      this.seqs[last] = Math.max(this.seqs[last]!, seq);
      this.counts[last]! += counted;
      return;
    }
    this.seqs.push(seq);
    this.times.push(at);
    this.counts.push(counted);
  }

  /** A projector slice has read the log up to `position` and is applying it. */
  taken(position: number): void {
    if (position <= this.takenPosition) return;
    this.takenPosition = position;
    let i = Math.max(this.takenHead, this.head);
    while (i < this.seqs.length && this.seqs[i]! <= position) {
      this.waiting -= this.counts[i]!;
      i++;
    }
    this.takenHead = i;
    this.wakeWaiters();
  }

  /** The projector has applied every log row up to `position`. */
  projected(position: number): void {
    if (position <= this.position) return;
    this.taken(position);
    this.position = position;
    while (this.head < this.seqs.length && this.seqs[this.head]! <= position) this.head++;
    // Compact once the consumed prefix dominates, so the arrays do not grow with history.
    if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.times = this.times.slice(this.head);
      this.counts = this.counts.slice(this.head);
      this.takenHead -= this.head;
      this.head = 0;
    }
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }

  /** Milliseconds since the oldest unprojected append (0 when the projector is caught up). */
  lagMs(now = Date.now()): number {
    return this.head < this.seqs.length ? Math.max(0, now - this.times[this.head]!) : 0;
  }

  /**
   * Resolves true once the lag is at most `maxLagMs` and fewer than `maxBacklogEvents` events
   * wait for a slice, or false when that is still not so after `maxWaitMs`: ingest slows to the
   * projector's pace instead of letting the read models fall further behind. Callers woken by the
   * same projector report are let in together, so the backlog may pass its cap by one such herd
   * (at most one request per open connection). What a caller does with false is its choice (HTTP
   * ingest refuses with 503 so that what is acknowledged is what the projector sustains; the bus
   * consumer appends anyway).
   *
   * While `stalled()` says the projector cannot write at all (its database is down), ingest is
   * admitted at once: the durable log takes the events and the projector catches up once the
   * database is back, so an outage of the read models does not become an outage of ingest
   * (docs/guides/runtime-lib-analytics.md; `bench:outage`). Slowness is throttled; a stall is ridden out.
   */
  async admit(
    limits: { maxLagMs: number; maxBacklogEvents: number },
    maxWaitMs: number,
    stalled: () => boolean = () => false,
  ): Promise<boolean> {
    const within = () => this.lagMs() <= limits.maxLagMs && this.waiting < limits.maxBacklogEvents;
    if (within() || stalled()) return true;
    const deadline = Date.now() + maxWaitMs;
    while (!within() && !stalled()) {
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
