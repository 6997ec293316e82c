/**
 * When to restart a crashed instance. The first crash after a healthy run restarts immediately (so
 * a kill -9 is repaired in well under a second); repeated crashes back off exponentially; too many
 * crashes in a window mean the instance is crash-looping and is no longer restarted.
 */

export interface RestartPolicyOptions {
  /** Delay of the second restart in a row; doubles each time. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** This many crashes within `windowMs` → crash-loop. */
  crashLimit: number;
  windowMs: number;
  /** A run that stayed up (and ready) this long counts as healthy and clears the crash history. */
  healthyRunMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  initialBackoffMs: 100,
  maxBackoffMs: 10_000,
  crashLimit: 5,
  windowMs: 60_000,
  healthyRunMs: 5_000,
};

export type RestartDecision =
  | { action: 'restart'; delayMs: number }
  | { action: 'crash-loop'; crashes: number };

/** Crash bookkeeping for one instance. */
export class RestartTracker {
  private readonly options: RestartPolicyOptions;
  private crashes: number[] = [];

  constructor(options: Partial<RestartPolicyOptions> = {}) {
    this.options = { ...DEFAULT_RESTART_POLICY, ...options };
  }

  /**
   * Records a crash at `now` of a run that lasted `uptimeMs` and had (or not) become ready, and
   * decides what to do next.
   */
  onCrash(now: number, uptimeMs: number, becameReady: boolean): RestartDecision {
    const o = this.options;
    if (becameReady && uptimeMs >= o.healthyRunMs) this.crashes = [];
    this.crashes = this.crashes.filter((t) => now - t < o.windowMs);
    this.crashes.push(now);
    if (this.crashes.length >= o.crashLimit) return { action: 'crash-loop', crashes: this.crashes.length };
    const streak = this.crashes.length;
    const delayMs = streak <= 1 ? 0 : Math.min(o.maxBackoffMs, o.initialBackoffMs * 2 ** (streak - 2));
    return { action: 'restart', delayMs };
  }

  reset(): void {
    this.crashes = [];
  }
}
