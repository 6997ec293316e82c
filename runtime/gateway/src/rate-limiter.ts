/** Token buckets per client (user id from the JWT, else the client IP). */
export interface RateLimit {
  rps: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  updated: number;
  /** After this long idle the bucket is full again and can be forgotten. */
  fullAfterMs: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

const MAX_CLIENTS = 100_000;
/** One answer for every admitted request: nothing to allocate on the common path. */
const ALLOWED: RateDecision = Object.freeze({ ok: true });

export class RateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  #lastSweep = 0;

  /** Consumes a token for `key` under `limit`; `now` in milliseconds. */
  take(key: string, limit: RateLimit, now = Date.now()): RateDecision {
    if (limit.rps <= 0) return ALLOWED;
    if (now - this.#lastSweep > 10_000) this.#sweep(now);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= MAX_CLIENTS) this.#evictOldest();
      bucket = { tokens: limit.burst, updated: now, fullAfterMs: (limit.burst / limit.rps) * 1000 };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.updated) / 1000) * limit.rps);
      bucket.updated = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return ALLOWED;
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - bucket.tokens) / limit.rps)) };
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Buckets that have refilled completely carry no information; drop them. */
  #sweep(now: number): void {
    this.#lastSweep = now;
    for (const [key, b] of this.#buckets) if (now - b.updated > b.fullAfterMs) this.#buckets.delete(key);
  }

  #evictOldest(): void {
    const first = this.#buckets.keys().next();
    if (!first.done) this.#buckets.delete(first.value);
  }
}
