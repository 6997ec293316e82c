/**
 * Every in-memory structure of the analytics service stays within its documented bound however
 * many distinct items, users and ids pass through it, and keeps the semantics it replaced.
 * No timings here: speed lives in `npm run bench:analytics-soak`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../lib/storage/db.ts';
import {
  addToSketch,
  countersOf,
  decodeSketch,
  encodeSketch,
  type Sketch,
  sketchSize,
  topOfSketch,
} from '../src/co-view-sketch.ts';
import { DedupWindow } from '../src/dedup-window.ts';
import { createHll, hllAdd, hllAddMany, hllEstimate, hllFromBytes, hllToBytes } from '../src/hll.ts';
import { ProjectionLag } from '../src/projection-lag.ts';
import { Projector } from '../src/projector.ts';
import { recommendations, trending } from '../src/queries.ts';
import { RecentViews } from '../src/recent-views.ts';
import { logMigrations, migrations } from '../src/schema.ts';

describe('duplicate window', () => {
  it('never holds more than its capacity, whatever the number of distinct ids', () => {
    const w = new DedupWindow(1000);
    for (let i = 0; i < 50_000; i++) w.add(`id-${i}`);
    expect(w.size).toBe(1000);
    expect(w.has('id-49999')).toBe(true);
    expect(w.has('id-49000')).toBe(true);
    expect(w.has('id-48999')).toBe(false);
  });

  it('takes 16 bytes per id, fixed at construction: 32 MB for the default 2M ids', () => {
    const w = new DedupWindow(2_000_000);
    const bytes = w.bytes;
    // A table of 2^22 ring slots (4 bytes each, at most half full) and the ring (8 bytes per id).
    expect(bytes).toBe(2 ** 22 * 4 + 2_000_000 * 8);
    expect(bytes / 2 ** 20).toBeLessThan(32);
    for (let i = 0; i < 3_000; i++) w.add(`id-${i}`);
    expect(w.bytes).toBe(bytes);
  });

  it('answers exactly like a Map plus ring of the last N ids (property)', () => {
    const op = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ del: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
        const w = new DedupWindow(capacity);
        // Reference: the former implementation (id -> ring slot, ring in acceptance order).
        const map = new Map<string, number>();
        const ring: (string | undefined)[] = new Array(capacity);
        let next = 0;
        for (const o of ops) {
          if ('add' in o) {
            const id = `x${o.add}`;
            const slot = next;
            next = (slot + 1) % capacity;
            const evicted = ring[slot];
            if (evicted !== undefined && map.get(evicted) === slot) map.delete(evicted);
            ring[slot] = id;
            map.set(id, slot);
            w.add(id);
          } else {
            map.delete(`x${o.del}`);
            w.delete(`x${o.del}`);
          }
          for (let i = 0; i <= 40; i++) if (w.has(`x${i}`) !== map.has(`x${i}`)) return false;
          if (w.size !== map.size) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('recent views', () => {
  it('holds at most two generations of users and retires idle ones', () => {
    const r = new RecentViews({ perUser: 10, perGeneration: 100, maxAgeMs: 60_000 }, 0);
    for (let i = 0; i < 10_000; i++) r.set(`u${i}`, [`item-${i}`, i], 1);
    expect(r.size).toBeLessThanOrEqual(200);
    expect(r.get('u9999')).toEqual(['item-9999', 9999]);
    expect(r.get('u0')).toBeUndefined();
    // Two windows later, with one new user, everyone else is gone.
    r.set('late', ['x', 1], 60_002);
    r.set('later', ['y', 1], 120_004);
    expect(r.get('u9999')).toBeUndefined();
    expect(r.get('late')).toEqual(['x', 1]);
    expect(r.size).toBe(2);
  });

  it('keeps a returning user in one generation only', () => {
    const r = new RecentViews({ perUser: 10, perGeneration: 3, maxAgeMs: 60_000 }, 0);
    for (const u of ['a', 'b', 'c', 'd']) r.set(u, [u, 0], 0);
    r.set('a', ['a2', 1], 0);
    expect(r.size).toBe(4);
    expect(r.get('a')).toEqual(['a2', 1]);
  });
});

describe('co-view sketch', () => {
  it('is exact below its capacity and never exceeds it', () => {
    const counters: Sketch = [];
    addToSketch(
      counters,
      new Map([
        ['b', 3],
        ['c', 1],
      ]),
      4,
    );
    addToSketch(
      counters,
      new Map([
        ['b', 2],
        ['d', 1],
      ]),
      4,
    );
    expect(topOfSketch(counters, 10)).toEqual([
      ['b', 5, 0],
      ['c', 1, 0],
      ['d', 1, 0],
    ]);
    for (let i = 0; i < 12; i++) addToSketch(counters, new Map([[`p${i}`, 1]]), 4);
    expect(sketchSize(counters)).toBe(4);
    // 5 of 19 co-views is above 19/4: the heavy partner survives the one-off partners
    // (the Space-Saving guarantee).
    expect(topOfSketch(counters, 1)[0]![0]).toBe('b');
  });

  it('holds every partner above total/capacity, over-estimating by at most its error (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 400 }), (stream) => {
        const capacity = 8;
        const counters: Sketch = [];
        const truth = new Map<string, number>();
        for (const p of stream) {
          addToSketch(counters, new Map([[`p${p}`, 1]]), capacity);
          truth.set(`p${p}`, (truth.get(`p${p}`) ?? 0) + 1);
        }
        if (sketchSize(counters) > capacity) return false;
        for (const [partner, n] of truth) {
          const c = countersOf(counters).find((x) => x[0] === partner);
          if (n > stream.length / capacity && !c) return false;
          if (c && (c[1] < n || c[1] - c[2] > n)) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('reads the earlier one-array-per-counter form and writes the flat one', () => {
    const earlier = JSON.stringify([
      ['b', 5, 0],
      ['c', 1, 0],
    ]);
    const sketch = decodeSketch(earlier);
    expect(sketch).toEqual(['b', 5, 0, 'c', 1, 0]);
    addToSketch(sketch, new Map([['c', 2]]));
    expect(encodeSketch(sketch)).toBe('["b",5,0,"c",3,0]');
    expect(decodeSketch(encodeSketch(sketch))).toEqual(sketch);
    expect(decodeSketch(null)).toEqual([]);
  });
});

describe('HyperLogLog sparse merge', () => {
  it('stores the same bytes as decoding, adding one by one and encoding (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 60 }),
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 60 }),
        fc.boolean(),
        (before, added, dense) => {
          const registers = createHll();
          for (const v of before) hllAdd(registers, v);
          if (dense) for (let i = 0; i < 3000; i++) hllAdd(registers, `d${i}`);
          const stored = before.length === 0 && !dense ? undefined : hllToBytes(registers);
          const expected = hllFromBytes(stored);
          let changed = !stored;
          for (const v of added) if (hllAdd(expected, v)) changed = true;
          const got = hllAddMany(stored, added);
          if (!changed) return got === undefined;
          return (
            got !== undefined && Buffer.compare(Buffer.from(got), Buffer.from(hllToBytes(expected))) === 0
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('projection lag tracker', () => {
  const byAge = { maxLagMs: 1000, maxBacklogEvents: Infinity };

  it('stays within its entry bound and only ever over-reports when merging', () => {
    const lag = new ProjectionLag({ resolutionMs: 0, maxEntries: 100 });
    for (let seq = 1; seq <= 10_000; seq++) lag.appended(seq, seq);
    expect(lag.entries).toBe(100);
    expect(lag.lagMs(20_000)).toBe(20_000 - 1);
    lag.projected(9_999);
    // The newest rows were merged into an older entry: the lag reads high, never low.
    expect(lag.lagMs(20_000)).toBeGreaterThanOrEqual(20_000 - 10_000);
    lag.projected(10_000);
    expect(lag.lagMs(20_000)).toBe(0);
    expect(lag.entries).toBe(0);
  });

  it('admits at once when caught up, waits for the projector when behind, and says so at the deadline', async () => {
    const lag = new ProjectionLag();
    expect(await lag.admit(byAge, 1000)).toBe(true);
    lag.appended(5, Date.now() - 5000);
    let admitted: boolean | undefined;
    const waiting = lag.admit(byAge, 60_000).then((ok) => {
      admitted = ok;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(admitted).toBeUndefined();
    lag.projected(5);
    await waiting;
    expect(admitted).toBe(true);
    lag.appended(6, Date.now() - 5000);
    expect(await lag.admit(byAge, 20)).toBe(false);
    expect(lag.lagMs()).toBeGreaterThan(1000);
  });

  it('holds ingest back while too many events await the projector, however young they are', async () => {
    const lag = new ProjectionLag();
    const limits = { maxLagMs: 1000, maxBacklogEvents: 250 };
    lag.appended(1, Date.now(), 100);
    lag.appended(2, Date.now() + 50, 100);
    expect(lag.backlogEvents).toBe(200);
    expect(await lag.admit(limits, 20)).toBe(true);
    lag.appended(3, Date.now() + 100, 100);
    expect(lag.lagMs()).toBeLessThan(1000);
    expect(await lag.admit(limits, 20)).toBe(false);
    const waiting = lag.admit(limits, 60_000);
    // Applying the oldest rows brings the backlog under the cap and lets the caller in.
    lag.projected(1);
    expect(lag.backlogEvents).toBe(200);
    expect(await waiting).toBe(true);
    lag.projected(3);
    expect(lag.backlogEvents).toBe(0);
  });

  it('counts merged entries in full until all of their rows are applied', () => {
    const lag = new ProjectionLag({ resolutionMs: 10 });
    lag.appended(1, 1000, 100);
    lag.appended(2, 1005, 50);
    lag.projected(1);
    // Row 2 shares row 1's entry: the backlog reads high (150), never low, until row 2 is applied.
    expect(lag.backlogEvents).toBe(150);
    lag.projected(2);
    expect(lag.backlogEvents).toBe(0);
  });

  it('does not count what the running slice has taken: the cap bounds the next slice', async () => {
    const lag = new ProjectionLag({ resolutionMs: 10 });
    const limits = { maxLagMs: 60_000, maxBacklogEvents: 150 };
    lag.appended(1, Date.now(), 100);
    lag.appended(2, Date.now() + 50, 100);
    expect(await lag.admit(limits, 20)).toBe(false);
    // A slice reads rows 1 and 2: nothing waits for a slice any more, though nothing is applied.
    lag.taken(2);
    expect(lag.backlogEvents).toBe(0);
    expect(await lag.admit(limits, 20)).toBe(true);
    // Rows appended meanwhile wait for the next slice, in an entry of their own even within the
    // resolution of a taken one.
    lag.appended(3, Date.now() + 55, 100);
    expect(lag.backlogEvents).toBe(100);
    lag.projected(2);
    expect(lag.backlogEvents).toBe(100);
    // The thread's report of a slice can overtake the append it read: that row is not waiting.
    lag.taken(4);
    lag.appended(4, Date.now() + 100, 100);
    expect(lag.backlogEvents).toBe(0);
    lag.projected(4);
    expect(lag.lagMs()).toBe(0);
    expect(lag.entries).toBe(0);
  });

  it('admits while the projector is stalled (its database down): the log rides the outage out', async () => {
    const lag = new ProjectionLag();
    lag.appended(5, Date.now() - 5000);
    let stalled = true;
    expect(await lag.admit(byAge, 20, () => stalled)).toBe(true);
    // A stall that begins while a caller waits lets that caller in too.
    stalled = false;
    const waiting = lag.admit(byAge, 60_000, () => stalled);
    stalled = true;
    expect(await waiting).toBe(true);
    // Once the projector writes again, its lag is throttled as before.
    stalled = false;
    expect(await lag.admit(byAge, 20, () => stalled)).toBe(false);
  });
});

describe('projector state', () => {
  it('keeps the per-user state bounded and the co-view rows at one per item, over many users and items', async () => {
    const db = await openDb('sqlite://:memory:');
    const log = await openDb('sqlite://:memory:');
    await db.migrate(migrations);
    await log.migrate(logMigrations);
    const t = Date.now();
    const projector = new Projector(db, log, { recentUsers: 500, coViewCapacity: 16 });
    let id = 0;
    for (let batch = 0; batch < 40; batch++) {
      const events = Array.from({ length: 500 }, (_, i) => [
        `e${id++}`,
        'view',
        `item-${(batch * 7 + i) % 300}`,
        `user-${(batch * 500 + i) % 5000}`,
        t + batch,
      ]);
      await log.run('INSERT INTO ingest_log (received_at, events) VALUES (?, ?)', [
        t,
        JSON.stringify(events),
      ]);
    }
    expect(await projector.catchUp(60_000)).toBe(true);
    expect(projector.stats.applied).toBe(20_000);
    expect(projector.recentUsers).toBeLessThanOrEqual(1000);
    const sketches = await db.query<{ partners: string }>('SELECT partners FROM co_view_topk');
    expect(sketches.length).toBeLessThanOrEqual(300);
    for (const s of sketches) expect(sketchSize(decodeSketch(s.partners))).toBeLessThanOrEqual(16);
    expect((await recommendations(db, 'item-0', 100)).length).toBeLessThanOrEqual(16);
    await db.close();
    await log.close();
  });

  it('keeps trending viewers as one sketch per item and minute, not a row per view', async () => {
    const db = await openDb('sqlite://:memory:');
    const log = await openDb('sqlite://:memory:');
    await db.migrate(migrations);
    await log.migrate(logMigrations);
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const projector = new Projector(db, log);
    const viewers = new Map<string, Set<string>>();
    let id = 0;
    for (let batch = 0; batch < 20; batch++) {
      const events = Array.from({ length: 500 }, (_, i) => {
        const item = `item-${(batch * 7 + i) % 50}`;
        const user = `user-${(batch * 131 + i * 17) % 3000}`;
        const set = viewers.get(item) ?? new Set();
        set.add(user);
        viewers.set(item, set);
        // Two minutes, so an item's window union spans two sketches.
        return [`e${id++}`, 'view', item, user, minute + (batch % 2) * 60_000];
      });
      await log.run('INSERT INTO ingest_log (received_at, events) VALUES (?, ?)', [
        Date.now(),
        JSON.stringify(events),
      ]);
    }
    expect(await projector.catchUp(60_000)).toBe(true);
    const rows = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM item_minute_sketches');
    expect(rows?.n).toBe(100);
    const top = await trending(db, 10 * 60_000, 50, minute + 2 * 60_000);
    expect(top).toHaveLength(50);
    for (const item of top) {
      // The union of an item's minute sketches is the sketch of all its viewers, within the
      // estimate's error of the exact count.
      const all = createHll();
      for (const user of viewers.get(item.contentId)!) hllAdd(all, user);
      expect(item.viewers).toBe(hllEstimate(all));
      expect(Math.abs(item.viewers / viewers.get(item.contentId)!.size - 1)).toBeLessThan(0.05);
      expect(item.views).toBe(200);
    }
    await db.close();
    await log.close();
  });

  it('migrates per-view trending rows into per-minute sketches with the same distinct viewers', async () => {
    const db = await openDb('sqlite://:memory:');
    await db.migrate(migrations.slice(0, 5));
    const now = Date.now();
    const minute = Math.floor(now / 60_000);
    const rows: [string, number, string][] = [];
    for (let u = 0; u < 30; u++) rows.push(['hot', minute, `u${u}`], ['hot', minute - 1, `u${u + 10}`]);
    rows.push(['cold', minute, 'u1']);
    await db.runMany('INSERT INTO item_minute_viewers (content_id, minute, user_id) VALUES (?, ?, ?)', rows);
    await db.runMany('INSERT INTO item_minutes (content_id, minute, views) VALUES (?, ?, ?)', [
      ['hot', minute, 30],
      ['hot', minute - 1, 30],
      ['cold', minute, 5],
    ]);
    await db.migrate(migrations);
    expect(await trending(db, 10 * 60_000, 5, now)).toEqual([
      { contentId: 'hot', viewers: 40, views: 60 },
      { contentId: 'cold', viewers: 1, views: 5 },
    ]);
    expect(await db.query("SELECT name FROM sqlite_master WHERE name = 'item_minute_viewers'")).toEqual([]);
    await db.close();
  });

  it('migrates co-view pairs into per-item sketches, keeping the heaviest partners exactly', async () => {
    const db = await openDb('sqlite://:memory:');
    await db.migrate(migrations.slice(0, 3));
    const rows = Array.from({ length: 200 }, (_, i) => ['A', `p${i}`, i + 1]);
    await db.runMany('INSERT INTO co_views (a, b, n) VALUES (?, ?, ?)', [...rows, ['B', 'A', 7]]);
    await db.migrate(migrations);
    const top = await recommendations(db, 'A', 3);
    expect(top).toEqual([
      { contentId: 'p199', coViews: 200 },
      { contentId: 'p198', coViews: 199 },
      { contentId: 'p197', coViews: 198 },
    ]);
    expect(await recommendations(db, 'B', 5)).toEqual([{ contentId: 'A', coViews: 7 }]);
    await db.close();
  });
});
