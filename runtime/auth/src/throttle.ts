/**
 * Login throttling: exponential backoff per key (an account's e-mail, a client IP).
 *
 * Each key may fail `freeFailures` times; every further failure locks it for
 * `baseLockMs * 2^(extra failures - 1)`, capped at `maxLockMs`. A success clears the account key
 * (not the IP key: one correct password must not unlock an IP that is spraying other accounts).
 * Entries are forgotten `forgetAfterMs` after their last failure, and the table is bounded
 * (oldest first eviction) so a flood of random e-mails cannot exhaust memory.
 *
 * State is per process. With several auth replicas each enforces its own budget, so the
 * effective budget is multiplied by the replica count; acceptable for the lockout goal (slow
 * down guessing by orders of magnitude), and the gateway's rate limit adds a global bound.
 */

export interface ThrottleRule {
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

export interface ThrottleOptions {
  account: ThrottleRule;
  ip: ThrottleRule;
  forgetAfterMs: number;
  maxEntries: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  account: { freeFailures: 5, baseLockMs: 1_000, maxLockMs: 15 * 60_000 },
  ip: { freeFailures: 20, baseLockMs: 1_000, maxLockMs: 15 * 60_000 },
  forgetAfterMs: 60 * 60_000,
  maxEntries: 100_000,
};

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
  /** Attempts admitted by `acquire` and not yet released. */
  inflight: number;
}

export interface ThrottleVerdict {
  allowed: boolean;
  /** Milliseconds until the next attempt is allowed (0 when allowed). */
  retryAfterMs: number;
  /** Which key is locked, when not allowed. */
  lockedBy?: 'account' | 'ip';
}

export class LoginThrottle {
  readonly #opts: ThrottleOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(opts: Partial<ThrottleOptions> = {}, now: () => number = Date.now) {
    this.#opts = { ...DEFAULT_THROTTLE, ...opts };
    this.#now = now;
  }

  check(account: string, ip: string): ThrottleVerdict {
    const now = this.#now();
    const a = this.#live(`a:${account}`, now);
    const i = this.#live(`i:${ip}`, now);
    const aWait = a ? Math.max(0, a.lockedUntil - now) : 0;
    const iWait = i ? Math.max(0, i.lockedUntil - now) : 0;
    if (aWait === 0 && iWait === 0) return { allowed: true, retryAfterMs: 0 };
    return aWait >= iWait
      ? { allowed: false, retryAfterMs: aWait, lockedBy: 'account' }
      : { allowed: false, retryAfterMs: iWait, lockedBy: 'ip' };
  }

  /**
   * Admits one attempt, counting it as in flight until `release`. Attempts in flight count against
   * the free failures: a burst of parallel guesses cannot all pass the check before the first
   * (slow, argon2) verification records its failure.
   */
  acquire(account: string, ip: string): ThrottleVerdict {
    const verdict = this.check(account, ip);
    if (!verdict.allowed) return verdict;
    const now = this.#now();
    const a = this.#entry(`a:${account}`, now);
    const i = this.#entry(`i:${ip}`, now);
    if (a.failures + a.inflight > this.#opts.account.freeFailures)
      return { allowed: false, retryAfterMs: this.#opts.account.baseLockMs, lockedBy: 'account' };
    if (i.failures + i.inflight > this.#opts.ip.freeFailures)
      return { allowed: false, retryAfterMs: this.#opts.ip.baseLockMs, lockedBy: 'ip' };
    a.inflight += 1;
    i.inflight += 1;
    return verdict;
  }

  /** Ends an attempt admitted by `acquire`. */
  release(account: string, ip: string, ok: boolean): void {
    for (const key of [`a:${account}`, `i:${ip}`]) {
      const e = this.#entries.get(key);
      if (e && e.inflight > 0) e.inflight -= 1;
    }
    if (ok) this.recordSuccess(account);
    else this.recordFailure(account, ip);
    const ipEntry = this.#entries.get(`i:${ip}`);
    if (ipEntry && ipEntry.failures === 0 && ipEntry.inflight === 0) this.#entries.delete(`i:${ip}`);
  }

  recordFailure(account: string, ip: string): void {
    const now = this.#now();
    this.#fail(`a:${account}`, this.#opts.account, now);
    this.#fail(`i:${ip}`, this.#opts.ip, now);
  }

  recordSuccess(account: string): void {
    this.#entries.delete(`a:${account}`);
  }

  get size(): number {
    return this.#entries.size;
  }

  #entry(key: string, now: number): Entry {
    let e = this.#live(key, now);
    if (!e) {
      e = { failures: 0, lockedUntil: 0, lastFailure: now, inflight: 0 };
      this.#insert(key, e);
    }
    return e;
  }

  #insert(key: string, e: Entry): void {
    // Re-insert so Map order is least-recently-touched first, which is what eviction removes.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    while (this.#entries.size > this.#opts.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && e.inflight === 0 && now - e.lastFailure > this.#opts.forgetAfterMs && now >= e.lockedUntil) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  #fail(key: string, rule: ThrottleRule, now: number): void {
    const e = this.#live(key, now) ?? { failures: 0, lockedUntil: 0, lastFailure: now, inflight: 0 };
    e.failures += 1;
    e.lastFailure = now;
    const extra = e.failures - rule.freeFailures;
    if (extra > 0) {
      const lock = Math.min(rule.maxLockMs, rule.baseLockMs * 2 ** Math.min(extra - 1, 30));
      e.lockedUntil = Math.max(e.lockedUntil, now + lock);
    }
    this.#insert(key, e);
  }
}
