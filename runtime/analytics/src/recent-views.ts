/**
 * Each user's most recent item views, the in-memory input of co-view counting. Bounded in two
 * ways, both documented in the service's env reference:
 * - per user: at most `perUser` items (the oldest view is dropped first);
 * - in users: two generations of at most `perGeneration` users each. Lookups read the current
 *   generation, then the previous one; the previous generation is dropped wholesale when the
 *   current one fills up or is older than the co-view window. So at most 2 × `perGeneration`
 *   users are held, eviction is O(1) (no per-entry scan or LRU list), and a user idle for more
 *   than two windows is forgotten (they could not co-view anything anyway).
 * Under more active users than the bound, the least recently active are forgotten early and their
 * next view starts a fresh history: co-views are under-counted, never invented.
 */

/** A user's recent views, flat: `[contentId, ts, contentId, ts, …]`. */
export type Recent = (string | number)[];

export interface RecentViewsOptions {
  /** Items remembered per user. */
  perUser: number;
  /** Users per generation (at most twice this many are held). */
  perGeneration: number;
  /** A generation older than this is retired (the co-view window). */
  maxAgeMs: number;
}

export class RecentViews {
  private current = new Map<string, Recent>();
  private previous = new Map<string, Recent>();
  private startedAt: number;
  readonly options: RecentViewsOptions;

  constructor(options: RecentViewsOptions, now = Date.now()) {
    this.options = options;
    this.startedAt = now;
  }

  /** Users held, both generations (a user lives in one of them). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  get(userId: string): Recent | undefined {
    return this.current.get(userId) ?? this.previous.get(userId);
  }

  /** Stores a user's new recent list (a fresh array; the stored one is never mutated in place). */
  set(userId: string, recent: Recent, now = Date.now()): void {
    if (this.current.size >= this.options.perGeneration || now - this.startedAt > this.options.maxAgeMs) {
      this.previous = this.current;
      this.current = new Map();
      this.startedAt = now;
    }
    this.current.set(userId, recent);
    // Keeps the bound exact: a user moves to the current generation instead of living in both.
    this.previous.delete(userId);
  }
}
