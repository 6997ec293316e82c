/**
 * Login throttling following OWASP's authentication guidance: exponential backoff, short caps,
 * and keys that a third party cannot use to lock someone else out.
 *
 * Two keys are throttled:
 * - the (account, client IP) pair: guesses at one account from one client. Locking the pair
 *   stops that client without touching the account's owner, who logs in from elsewhere;
 * - the client IP alone: one client spraying many accounts.
 * There is deliberately no account-wide lock: anyone could keep any account locked with wrong
 * passwords. Guessing from many addresses is bounded by the per-pair budget times the addresses
 * (and the gateway's rate limit); slowing that further takes a second factor, not a lockout.
 *
 * Each key may fail `freeFailures` times; every further failure locks it for
 * `baseLockMs * 2^(extra failures - 1)`, capped at `maxLockMs` (minutes, not hours). When a lock
 * runs out one attempt is let through; its failure locks again for twice as long. The verdict's
 * `retryAfterMs` is exactly the time left. A success clears the pair (not the IP: one correct
 * password must not unlock an IP spraying other accounts). Keys are forgotten `forgetAfterMs`
 * after their last failure once unlocked, and the table is bounded (least recently touched
 * evicted first) so a flood of random e-mails cannot exhaust memory.
 *
 * State is per process. With several auth replicas each enforces its own budget.
 */

export interface ThrottleRule {
  freeFailures: number;
  baseLockMs: number;
  maxLockMs: number;
}

export interface ThrottleOptions {
  /** Per (account, client IP) pair. */
  account: ThrottleRule;
  /** Per client IP, over every account. */
  ip: ThrottleRule;
  forgetAfterMs: number;
  maxEntries: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  account: { freeFailures: 5, baseLockMs: 1_000, maxLockMs: 5 * 60_000 },
  ip: { freeFailures: 20, baseLockMs: 1_000, maxLockMs: 5 * 60_000 },
  forgetAfterMs: 15 * 60_000,
  maxEntries: 100_000,
};

/** What a refusal says while another attempt of the same key is still being verified. */
const BUSY_RETRY_MS = 1_000;

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
  /** Which key is locked, when not allowed: the account from this client, or the client. */
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
    const a = this.#live(pairKey(account, ip), now);
    const i = this.#live(ipKey(ip), now);
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
   * (slow, argon2) verification records its failure. Past the free failures one attempt at a
   * time is admitted once the lock has run out.
   */
  acquire(account: string, ip: string): ThrottleVerdict {
    const verdict = this.check(account, ip);
    if (!verdict.allowed) return verdict;
    const now = this.#now();
    const a = this.#entry(pairKey(account, ip), now);
    const i = this.#entry(ipKey(ip), now);
    if (a.inflight > 0 && a.failures + a.inflight >= this.#opts.account.freeFailures)
      return { allowed: false, retryAfterMs: BUSY_RETRY_MS, lockedBy: 'account' };
    if (i.inflight > 0 && i.failures + i.inflight >= this.#opts.ip.freeFailures)
      return { allowed: false, retryAfterMs: BUSY_RETRY_MS, lockedBy: 'ip' };
    a.inflight += 1;
    i.inflight += 1;
    return verdict;
  }

  /** Ends an attempt admitted by `acquire`. */
  release(account: string, ip: string, ok: boolean): void {
    for (const key of [pairKey(account, ip), ipKey(ip)]) {
      const e = this.#entries.get(key);
      if (e && e.inflight > 0) e.inflight -= 1;
    }
    if (ok) this.recordSuccess(account, ip);
    else this.recordFailure(account, ip);
    const ipEntry = this.#entries.get(ipKey(ip));
    if (ipEntry && ipEntry.failures === 0 && ipEntry.inflight === 0) this.#entries.delete(ipKey(ip));
  }

  recordFailure(account: string, ip: string): void {
    const now = this.#now();
    this.#fail(pairKey(account, ip), this.#opts.account, now);
    this.#fail(ipKey(ip), this.#opts.ip, now);
  }

  recordSuccess(account: string, ip: string): void {
    this.#entries.delete(pairKey(account, ip));
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

function pairKey(account: string, ip: string): string {
  // A newline cannot occur in a normalised e-mail or an IP, so pairs cannot collide.
  return `a:${account}\n${ip}`;
}

function ipKey(ip: string): string {
  return `i:${ip}`;
}
