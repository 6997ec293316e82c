/**
 * Retries allowed as a fraction of recent requests (plus a floor so that a quiet caller can
 * still retry), over a sliding window of one-second buckets. Bounding retries keeps a struggling
 * upstream from receiving a retry storm on top of its normal load. The gateway keeps one for its
 * upstream retries; service-to-service clients (grpc-client.ts) keep one per upstream.
 */
export interface RetryBudgetOptions {
  ratio: number;
  minPerWindow: number;
  windowMs?: number;
}

export class RetryBudget {
  readonly #ratio: number;
  readonly #min: number;
  readonly #slots: number;
  readonly #requests: Float64Array;
  readonly #retries: Float64Array;
  readonly #seconds: Float64Array;

  constructor(opts: RetryBudgetOptions) {
    this.#ratio = opts.ratio;
    this.#min = opts.minPerWindow;
    this.#slots = Math.max(1, Math.round((opts.windowMs ?? 10_000) / 1000));
    this.#requests = new Float64Array(this.#slots);
    this.#retries = new Float64Array(this.#slots);
    this.#seconds = new Float64Array(this.#slots).fill(-1);
  }

  #slot(now: number): number {
    const second = Math.floor(now / 1000);
    const i = second % this.#slots;
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second;
      this.#requests[i] = 0;
      this.#retries[i] = 0;
    }
    return i;
  }

  #totals(now: number): { requests: number; retries: number } {
    const oldest = Math.floor(now / 1000) - this.#slots + 1;
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < this.#slots; i++) {
      if ((this.#seconds[i] as number) >= oldest) {
        requests += this.#requests[i] as number;
        retries += this.#retries[i] as number;
      }
    }
    return { requests, retries };
  }

  recordRequest(now = Date.now()): void {
    const i = this.#slot(now);
    this.#requests[i] = (this.#requests[i] as number) + 1;
  }

  /** Takes one retry from the budget; false when the budget is spent. */
  tryRetry(now = Date.now()): boolean {
    const { requests, retries } = this.#totals(now);
    if (retries >= Math.max(this.#min, requests * this.#ratio)) return false;
    const i = this.#slot(now);
    this.#retries[i] = (this.#retries[i] as number) + 1;
    return true;
  }

  snapshot(now = Date.now()): { requests: number; retries: number; allowed: number } {
    const t = this.#totals(now);
    return { ...t, allowed: Math.floor(Math.max(this.#min, t.requests * this.#ratio)) };
  }
}
