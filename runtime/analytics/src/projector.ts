/**
 * Turns the ingest log into the read models: per-minute rollups, totals, unique viewers per item
 * and day (HyperLogLog) and co-view counts for recommendations. Each slice runs in one transaction
 * that also advances the projector position, so a crash anywhere re-applies nothing and loses
 * nothing. Work inside a slice is aggregated in memory first (one upsert per touched row, not per
 * event), which is what lets the projection keep pace with ingest.
 */
import type { Db, SqlParams, SqlValue, Tx } from '../../lib/storage/db.ts';
import { addToSketch, CO_VIEW_CAPACITY, decodeSketch, encodeSketch } from './co-view-sketch.ts';
import type { StoredEvent } from './events.ts';
import { hllAddMany } from './hll.ts';
import { type Recent, RecentViews } from './recent-views.ts';

export interface ProjectorOptions {
  /** Two views by the same user within this window count as a co-view. Default 30 min. */
  coViewWindowMs?: number;
  /** Items remembered per user for co-views. Default 10. */
  recentPerUser?: number;
  /**
   * Users whose recent views are held in memory, per generation (at most twice this many; see
   * recent-views.ts). Default 100000: 15–45 MB for both generations (one to ten items per user).
   */
  recentUsers?: number;
  /** Co-view partners kept per item (Space-Saving counters, see co-view-sketch.ts). Default 128. */
  coViewCapacity?: number;
  /** Max events per transaction. Default 50000. */
  sliceEvents?: number;
  /**
   * Delay between an append and the background projection. Batching a few hundred milliseconds of
   * events into one transaction is what makes projection cheap (one upsert per touched row per
   * slice instead of per event); queries still see their own writes through `catchUp`. Default 500.
   */
  delayMs?: number;
  /** Projected log rows older than this are deleted. Default `INGEST_LOG_RETENTION_MS` (2 days). */
  logRetentionMs?: number;
  onError?: (err: unknown) => void;
  /** Called when a background run has caught up with the log. */
  onIdle?: (stats: ProjectorStats) => void;
  /** Called with the log position after every committed slice (for the lag metric). */
  onProgress?: (position: number) => void;
  /** Called when a slice has read the log up to `position`, before it applies it (admission). */
  onTake?: (position: number) => void;
}

export interface ProjectorStats {
  applied: number;
  duplicates: number;
  slices: number;
}

interface ItemAcc {
  views: number;
  uploads: number;
  other: number;
  lastTs: number;
  minutes: Map<number, number>;
}

/** Viewer ids of one slice by bucket (day or minute), then item: what a sketch table receives. */
type ViewersByBucket = Map<number, Map<string, string[]>>;

function addViewer(into: ViewersByBucket, bucket: number, contentId: string, userId: string): void {
  let byItem = into.get(bucket);
  if (!byItem) {
    byItem = new Map();
    into.set(bucket, byItem);
  }
  const users = byItem.get(contentId);
  if (users) users.push(userId);
  else byItem.set(contentId, [userId]);
}

/**
 * The HyperLogLog tables (hll.ts), one sketch per item and bucket: unique viewers per day, and
 * distinct viewers per minute for trending (rows per view there were the projector's largest write).
 */
const DAY_SKETCHES = { table: 'item_day_viewers', bucket: 'day', key: 'content_id, day' } as const;
const MINUTE_SKETCHES = {
  table: 'item_minute_sketches',
  bucket: 'minute',
  key: 'minute, content_id',
} as const;
type SketchTable = typeof DAY_SKETCHES | typeof MINUTE_SKETCHES;

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Minute rollups are kept for the longest trending window the API serves (7 days) and a day. */
export const MINUTE_ROLLUP_RETENTION_MS = 8 * DAY;
/**
 * How long the ingest log keeps projected events, and the dedup horizon: two days, so the daily
 * data-lake export of yesterday (`platformctl analytics export`) still finds every batch received
 * yesterday, even when it runs late in the day. The one figure the docs quote.
 */
export const INGEST_LOG_RETENTION_MS = 2 * DAY;
const SEEN_CHUNK = 250;
const values = (n: number) => Array.from({ length: n }, () => '(?, ?)').join(',');
const SEEN_VALUES = values(SEEN_CHUNK);
/** Keys per `IN (…)` lookup of stored sketches. */
const READ_CHUNK = 250;

export class Projector {
  private readonly db: Db;
  private readonly log: Db;
  private readonly windowMs: number;
  private readonly recentPerUser: number;
  private readonly sliceEvents: number;
  private readonly retentionMs: number;
  private readonly delayMs: number;
  private readonly onError: (err: unknown) => void;
  private readonly onIdle: (stats: ProjectorStats) => void;
  private readonly onProgress: (position: number) => void;
  private readonly onTake: (position: number) => void;
  private readonly coViewCapacity: number;
  private queue: Promise<unknown> = Promise.resolve();
  private background: Promise<void> | undefined;
  private stopped = false;
  private readonly recent: RecentViews;
  private pendingRecent: Map<string, Recent> | undefined;
  private lastPosition = 0;
  private again = false;
  private lastPrune = 0;
  readonly stats: ProjectorStats = { applied: 0, duplicates: 0, slices: 0 };

  /** `db` holds the read models and the position; `log` the ingest log (may be the same database). */
  constructor(db: Db, log: Db, options: ProjectorOptions = {}) {
    this.db = db;
    this.log = log;
    this.windowMs = options.coViewWindowMs ?? 30 * MINUTE;
    this.recentPerUser = options.recentPerUser ?? 10;
    this.sliceEvents = options.sliceEvents ?? 50_000;
    this.retentionMs = options.logRetentionMs ?? INGEST_LOG_RETENTION_MS;
    this.delayMs = options.delayMs ?? 500;
    this.onIdle = options.onIdle ?? (() => {});
    this.onProgress = options.onProgress ?? (() => {});
    this.onTake = options.onTake ?? (() => {});
    this.coViewCapacity = options.coViewCapacity ?? CO_VIEW_CAPACITY;
    this.recent = new RecentViews({
      perUser: this.recentPerUser,
      perGeneration: options.recentUsers ?? 100_000,
      maxAgeMs: this.windowMs,
    });
    this.onError = options.onError ?? ((err) => process.stderr.write(`projector: ${String(err)}\n`));
  }

  /** Starts (if idle) a background run that projects until the log is caught up. */
  schedule(): void {
    if (this.stopped) return;
    if (this.background) {
      // Rows appended after the running loop's last check would otherwise wait for the next nudge.
      this.again = true;
      return;
    }
    this.again = false;
    this.background = new Promise<void>((resolve) => setTimeout(resolve, this.delayMs))
      .then(async () => {
        while (!this.stopped && (await this.slice()) > 0) {
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      })
      .catch((err) => this.onError(err))
      .finally(() => {
        this.background = undefined;
        this.onIdle(this.stats);
        if (this.again) this.schedule();
      });
  }

  /** Projects pending events for up to `budgetMs` (queries call this for read-your-writes). */
  async catchUp(budgetMs = 250): Promise<boolean> {
    const deadline = Date.now() + budgetMs;
    while (Date.now() < deadline) if ((await this.slice()) === 0) return true;
    return false;
  }

  /** Log position (last projected log row). */
  async position(): Promise<number> {
    const row = await this.db.get<{ position: number }>(
      "SELECT position FROM projector_state WHERE name = 'main'",
    );
    return row?.position ?? 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.background;
    await this.queue;
  }

  /** Projects one slice; returns the number of events consumed (0 when caught up). Serialised. */
  slice(): Promise<number> {
    const next = this.queue.then(async () => {
      this.pendingRecent = undefined;
      const n = await this.db.transaction((tx) => this.project(tx));
      if (this.pendingRecent) this.commitRecent(this.pendingRecent);
      this.pendingRecent = undefined;
      if (n > 0) this.onProgress(this.lastPosition);
      await this.prune();
      return n;
    });
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Once a minute: deletes projected log rows past retention, `seen` entries whose event time is
   * past the dedup horizon (the same retention: a replay is recognised as long as the log could
   * still hold the original) and minute rollups older than the longest trending window. These
   * keep the database, not only memory, from growing with history; each delete is a range at the
   * old end of its index.
   */
  private async prune(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPrune < MINUTE) return;
    this.lastPrune = now;
    const position = await this.position();
    await this.log.run('DELETE FROM ingest_log WHERE seq <= ? AND received_at < ?', [
      position,
      now - this.retentionMs,
    ]);
    await this.db.run('DELETE FROM seen WHERE ts < ?', [now - this.retentionMs]);
    const oldestMinute = Math.floor((now - MINUTE_ROLLUP_RETENTION_MS) / MINUTE);
    await this.db.run('DELETE FROM item_minutes WHERE minute < ?', [oldestMinute]);
    await this.db.run('DELETE FROM item_minute_sketches WHERE minute < ?', [oldestMinute]);
  }

  private async project(tx: Tx): Promise<number> {
    const state = await tx.get<{ position: number }>(
      "SELECT position FROM projector_state WHERE name = 'main'",
    );
    const position = state?.position ?? 0;
    // The log is another database (or at least only ever appended to), so reading it outside this
    // transaction is safe: rows past `position` are committed and immutable.
    const rows = await this.log.query<{ seq: number; events: string }>(
      'SELECT seq, events FROM ingest_log WHERE seq > ? ORDER BY seq LIMIT ?',
      [position, Math.max(1, Math.ceil(this.sliceEvents / 100))],
    );
    if (rows.length === 0) return 0;
    const events: StoredEvent[] = [];
    let last = position;
    for (const row of rows) {
      for (const e of JSON.parse(row.events) as StoredEvent[]) events.push(e);
      last = row.seq;
      if (events.length >= this.sliceEvents) break;
    }
    this.onTake(last);

    const fresh = await this.markSeen(tx, events);
    const applied = await this.apply(tx, events, fresh);
    await tx.run(
      `INSERT INTO projector_state (name, position) VALUES ('main', ?)
       ON CONFLICT (name) DO UPDATE SET position = excluded.position`,
      [last],
    );
    this.stats.applied += applied;
    this.stats.duplicates += events.length - applied;
    this.stats.slices++;
    this.lastPosition = last;
    return events.length;
  }

  /**
   * Records (ts, id) in `seen`; returns the ids that were new (to apply exactly once). An event is
   * identified by its id and its time, which a replay of the same event repeats.
   */
  private async markSeen(tx: Tx, events: StoredEvent[]): Promise<Set<string>> {
    const fresh = new Set<string>();
    for (let i = 0; i < events.length; i += SEEN_CHUNK) {
      const end = Math.min(events.length, i + SEEN_CHUNK);
      const params: SqlValue[] = new Array((end - i) * 2);
      for (let j = i; j < end; j++) {
        params[(j - i) * 2] = events[j]![4];
        params[(j - i) * 2 + 1] = events[j]![0];
      }
      const inserted = await tx.query<{ id: string }>(
        `INSERT INTO seen (ts, id) VALUES ${end - i === SEEN_CHUNK ? SEEN_VALUES : values(end - i)} ON CONFLICT (ts, id) DO NOTHING RETURNING id`,
        params,
      );
      for (const r of inserted) fresh.add(r.id);
    }
    return fresh;
  }

  private async apply(tx: Tx, events: StoredEvent[], fresh: Set<string>): Promise<number> {
    // Nested maps and flat arrays rather than composite string keys and small objects: this loop
    // runs for every event and allocation (GC) was its largest cost.
    const items = new Map<string, ItemAcc>();
    const dayViewers: ViewersByBucket = new Map();
    const minuteViewers: ViewersByBucket = new Map();
    const userViews = new Map<string, Recent>();
    let applied = 0;

    for (const [id, type, contentId, userId, ts] of events) {
      // `delete` also drops a second occurrence of the same id within this slice.
      if (!fresh.delete(id)) continue;
      applied++;
      let item = items.get(contentId);
      if (!item) {
        item = {
          views: 0,
          uploads: 0,
          other: 0,
          lastTs: 0,
          minutes: new Map(),
        };
        items.set(contentId, item);
      }
      if (ts > item.lastTs) item.lastTs = ts;
      if (type === 'view') {
        item.views++;
        const minute = Math.floor(ts / MINUTE);
        item.minutes.set(minute, (item.minutes.get(minute) ?? 0) + 1);
        if (userId) {
          addViewer(dayViewers, Math.floor(ts / DAY), contentId, userId);
          addViewer(minuteViewers, minute, contentId, userId);
          const u = userViews.get(userId);
          if (u) u.push(contentId, ts);
          else userViews.set(userId, [contentId, ts]);
        }
      } else if (type === 'upload') item.uploads++;
      else item.other++;
    }

    if (items.size > 0) {
      const totals: SqlParams[] = [];
      const minutes: SqlParams[] = [];
      for (const [cid, t] of items) {
        totals.push([cid, t.views, t.uploads, t.other, t.lastTs]);
        for (const [minute, n] of t.minutes) minutes.push([cid, minute, n]);
      }
      // Portable upsert (SQLite and PostgreSQL): target columns qualified, no scalar max().
      await tx.runMany(
        `INSERT INTO item_totals (content_id, views, uploads, other, last_ts) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (content_id) DO UPDATE SET views = item_totals.views + excluded.views,
           uploads = item_totals.uploads + excluded.uploads, other = item_totals.other + excluded.other,
           last_ts = CASE WHEN excluded.last_ts > item_totals.last_ts THEN excluded.last_ts ELSE item_totals.last_ts END`,
        totals,
      );
      if (minutes.length > 0) {
        await tx.runMany(
          `INSERT INTO item_minutes (content_id, minute, views) VALUES (?, ?, ?)
           ON CONFLICT (content_id, minute) DO UPDATE SET views = item_minutes.views + excluded.views`,
          minutes,
        );
      }
    }
    await this.applySketches(tx, DAY_SKETCHES, dayViewers);
    await this.applySketches(tx, MINUTE_SKETCHES, minuteViewers);
    this.pendingRecent = await this.applyCoViews(tx, userViews);
    return applied;
  }

  /**
   * Stored rows of `table` keyed by `content_id` for the given items, fetched with a few
   * `IN (…)` queries instead of one query per item.
   */
  private async readByItem<T extends { content_id: string }>(
    tx: Tx,
    select: string,
    ids: readonly string[],
    extra: SqlParams = [],
  ): Promise<T[]> {
    const rows: T[] = [];
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const chunk = ids.slice(i, i + READ_CHUNK);
      const found = await tx.query<T>(select.replace('(?)', `(${chunk.map(() => '?').join(',')})`), [
        ...chunk,
        ...extra,
      ]);
      for (const r of found) rows.push(r);
    }
    return rows;
  }

  /**
   * Adds a slice's viewers to the stored sketches of `where`: per bucket, the touched items'
   * sketches are read with a few `IN (…)` queries, merged (hllAddMany) and written back when a
   * register changed.
   */
  private async applySketches(tx: Tx, where: SketchTable, viewers: ViewersByBucket): Promise<void> {
    const { table, bucket: column, key } = where;
    const writes: SqlParams[] = [];
    for (const [bucket, byItem] of viewers) {
      const stored = new Map<string, Uint8Array>();
      for (const r of await this.readByItem<{ content_id: string; registers: Uint8Array }>(
        tx,
        `SELECT content_id, registers FROM ${table} WHERE content_id IN (?) AND ${column} = ?`,
        [...byItem.keys()],
        [bucket],
      )) {
        stored.set(r.content_id, r.registers);
      }
      for (const [contentId, users] of byItem) {
        const bytes = hllAddMany(stored.get(contentId), users);
        if (bytes) writes.push([contentId, bucket, bytes]);
      }
    }
    if (writes.length > 0) {
      await tx.runMany(
        `INSERT INTO ${table} (content_id, ${column}, registers) VALUES (?, ?, ?)
         ON CONFLICT (${key}) DO UPDATE SET registers = excluded.registers`,
        writes,
      );
    }
  }

  /**
   * "Viewers of X also viewed Y": when a user views X for the first time within the window, every
   * other item they viewed within the window gains a co-view with X (both directions). Repeat views
   * do not inflate counts; only the last `recentPerUser` items per user are kept.
   *
   * Each user's recent items live in memory only (`RecentViews`, bounded, flat
   * `[item, ts, item, ts…]`): they are derived state of the last `coViewWindowMs` of the log,
   * rebuilt from it at start (`warmUp`), and keeping them out of the database removes a read and a
   * write per event. Changes are staged per slice and applied after the commit, so a rolled-back
   * slice leaves them untouched.
   */
  private coViews(userViews: Map<string, Recent>, pairs: Map<string, Map<string, number>> | undefined) {
    const staged = new Map<string, Recent>();
    const bump = (a: string, b: string) => {
      let row = pairs!.get(a);
      if (!row) {
        row = new Map();
        pairs!.set(a, row);
      }
      row.set(b, (row.get(b) ?? 0) + 1);
    };
    for (const [userId, views] of userViews) {
      const known = this.recent.get(userId);
      // The common case: a user's first view in a while needs no pairing and no copy.
      if (!known && views.length === 2) {
        staged.set(userId, views);
        continue;
      }
      const recent: Recent = known ? known.slice() : [];
      for (let v = 0; v < views.length; v += 2) {
        const contentId = views[v] as string;
        const ts = views[v + 1] as number;
        let at = -1;
        for (let i = 0; i < recent.length; i += 2) {
          if (recent[i] === contentId) {
            at = i;
            break;
          }
        }
        const previous = at === -1 ? undefined : (recent[at + 1] as number);
        if (pairs && (previous === undefined || Math.abs(ts - previous) > this.windowMs)) {
          for (let i = 0; i < recent.length; i += 2) {
            const other = recent[i] as string;
            if (other === contentId || Math.abs(ts - (recent[i + 1] as number)) > this.windowMs) continue;
            bump(contentId, other);
            bump(other, contentId);
          }
        }
        if (at === -1) recent.push(contentId, ts);
        else if (ts > (previous as number)) recent[at + 1] = ts;
        if (recent.length > this.recentPerUser * 2) {
          let oldest = 0;
          for (let i = 2; i < recent.length; i += 2) {
            if ((recent[i + 1] as number) < (recent[oldest + 1] as number)) oldest = i;
          }
          recent.splice(oldest, 2);
        }
      }
      staged.set(userId, recent);
    }
    return staged;
  }

  private async applyCoViews(tx: Tx, userViews: Map<string, Recent>): Promise<Map<string, Recent>> {
    const pairs = new Map<string, Map<string, number>>();
    const staged = this.coViews(userViews, pairs);
    if (pairs.size > 0) {
      const ids = [...pairs.keys()];
      const sketches = new Map<string, string>();
      for (const r of await this.readByItem<{ content_id: string; partners: string }>(
        tx,
        'SELECT content_id, partners FROM co_view_topk WHERE content_id IN (?)',
        ids,
      )) {
        sketches.set(r.content_id, r.partners);
      }
      const rows: SqlParams[] = [];
      for (const [a, increments] of pairs) {
        const counters = decodeSketch(sketches.get(a));
        addToSketch(counters, increments, this.coViewCapacity);
        rows.push([a, encodeSketch(counters)]);
      }
      await tx.runMany(
        `INSERT INTO co_view_topk (content_id, partners) VALUES (?, ?)
         ON CONFLICT (content_id) DO UPDATE SET partners = excluded.partners`,
        rows,
      );
    }
    return staged;
  }

  /** Commits staged per-user state (RecentViews bounds and retires it). */
  private commitRecent(staged: Map<string, Recent>): void {
    const now = Date.now();
    for (const [userId, recent] of staged) this.recent.set(userId, recent, now);
  }

  /** Users whose recent views are held in memory (bounded; see recent-views.ts). */
  get recentUsers(): number {
    return this.recent.size;
  }

  /**
   * Rebuilds the per-user recent items from the already projected tail of the log (at most the
   * last `warmUpEvents` events within the window); nothing is written.
   */
  async warmUp(warmUpEvents = 500_000): Promise<void> {
    const position = await this.position();
    const since = Date.now() - this.windowMs;
    const rows = await this.log.query<{ events: string }>(
      'SELECT events FROM ingest_log WHERE seq <= ? AND received_at >= ? ORDER BY seq DESC LIMIT ?',
      [position, since, Math.ceil(warmUpEvents / 50)],
    );
    const userViews = new Map<string, Recent>();
    for (let i = rows.length - 1; i >= 0; i--) {
      for (const [, type, contentId, userId, ts] of JSON.parse(rows[i]!.events) as StoredEvent[]) {
        if (type !== 'view' || !userId) continue;
        const u = userViews.get(userId);
        if (u) u.push(contentId, ts);
        else userViews.set(userId, [contentId, ts]);
      }
    }
    this.commitRecent(this.coViews(userViews, undefined));
  }
}
