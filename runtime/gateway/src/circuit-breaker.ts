/**
 * Passive circuit breaking per upstream instance (outlier ejection): after `failures`
 * consecutive failures the instance is ejected for `cooldownMs`; then exactly one request probes
 * it (half-open). A successful probe closes the breaker, a failed one ejects it again.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failures: number;
  cooldownMs: number;
  onEject?: () => void;
}

export class CircuitBreaker {
  state: BreakerState = 'closed';
  consecutiveFailures = 0;
  ejectedUntil = 0;
  ejections = 0;
  #probeInFlight = false;
  readonly #opts: BreakerOptions;

  constructor(opts: BreakerOptions) {
    this.#opts = opts;
  }

  /** Whether a request may go to this instance now (does not change state). */
  available(now: number): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') return now >= this.ejectedUntil;
    return !this.#probeInFlight;
  }

  /** Called when a request is sent to this instance; turns an expired ejection into the probe. */
  acquire(now: number): void {
    if (this.state === 'open' && now >= this.ejectedUntil) this.state = 'half-open';
    if (this.state === 'half-open') this.#probeInFlight = true;
  }

  success(): void {
    this.consecutiveFailures = 0;
    if (this.state !== 'closed') {
      this.state = 'closed';
      this.#probeInFlight = false;
    }
  }

  failure(now: number): void {
    this.consecutiveFailures++;
    if (
      this.state === 'half-open' ||
      (this.state === 'closed' && this.consecutiveFailures >= this.#opts.failures)
    ) {
      this.state = 'open';
      this.#probeInFlight = false;
      this.ejectedUntil = now + this.#opts.cooldownMs;
      this.ejections++;
      this.#opts.onEject?.();
    }
  }

  /** A request to this instance ended without telling us anything (e.g. the client went away). */
  release(): void {
    this.#probeInFlight = false;
  }

  snapshot(now: number): {
    state: BreakerState;
    consecutiveFailures: number;
    ejectedForMs: number;
    ejections: number;
  } {
    const state = this.state === 'open' && now >= this.ejectedUntil ? 'half-open' : this.state;
    return {
      state,
      consecutiveFailures: this.consecutiveFailures,
      ejectedForMs: this.state === 'open' ? Math.max(0, this.ejectedUntil - now) : 0,
      ejections: this.ejections,
    };
  }
}
