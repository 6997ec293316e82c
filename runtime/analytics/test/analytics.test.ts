import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedBus } from '../../lib/storage/embedded-bus.ts';
import { READ_MODEL_PAGE_SIZE } from '../src/schema.ts';
import { getJson, PRODUCER, postEvents, type Started, startAnalytics, until, view } from './helpers.ts';

interface Stats {
  views: number;
  uploads: number;
  uniqueViewers: number;
  uniqueViewersToday: number;
  perMinute: { minute: string; views: number }[];
}

let dir: string;
const started: Started[] = [];

async function start(name: string, extra: Record<string, string> = {}): Promise<Started> {
  const s = await startAnalytics({
    DATA_DIR: join(dir, name, 'analytics'),
    BUS_URL: `embedded://${join(dir, name, 'bus')}`,
    ...extra,
  });
  started.push(s);
  return s;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'analytics-it-'));
});
afterAll(async () => {
  for (const s of started) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('analytics service', () => {
  let svc: Started;
  beforeAll(async () => {
    svc = await start('main');
  });

  it('creates its read-model database with large pages, so sketches stay out of overflow pages', async () => {
    const file = new Database(join(dir, 'main', 'analytics', 'analytics.db'), { readonly: true });
    try {
      expect(file.pragma('page_size', { simple: true })).toBe(READ_MODEL_PAGE_SIZE);
    } finally {
      file.close();
    }
  });

  it('ingests batches idempotently and answers stats, trending and recommendations', async () => {
    const batch = Array.from({ length: 100 }, (_, i) =>
      view(`b1-${i}`, i < 60 ? 'hot' : 'warm', `u${i % 40}`),
    );
    expect(await postEvents(svc.base, { events: batch })).toEqual({
      status: 202,
      body: { accepted: 100, duplicates: 0 },
    });
    expect(await postEvents(svc.base, { events: batch })).toEqual({
      status: 202,
      body: { accepted: 0, duplicates: 100 },
    });
    const mixed = [
      ...batch.slice(0, 10),
      ...Array.from({ length: 10 }, (_, i) => view(`b2-${i}`, 'cold', `u${i}`)),
    ];
    expect((await postEvents(svc.base, { events: mixed })).body).toEqual({ accepted: 10, duplicates: 10 });
    // A single event (not wrapped in a batch), twice.
    expect((await postEvents(svc.base, view('single-1', 'hot', 'u999'))).body).toEqual({
      accepted: 1,
      duplicates: 0,
    });
    expect((await postEvents(svc.base, view('single-1', 'hot', 'u999'))).body).toEqual({
      accepted: 0,
      duplicates: 1,
    });

    // Reads catch up with projection within a budget; on a loaded machine poll until they have.
    const hot = await until(
      () => getJson<Stats>(svc.base, '/analytics/content/hot/stats'),
      (st) => st.views >= 61 && st.uniqueViewers > 0,
      'projection of the first batches',
    );
    expect(hot.views).toBe(61);
    // u0..u39 viewed `hot` (events 0..59 use u0..u39) plus u999: 41 distinct; HLL is exact this small.
    expect(hot.uniqueViewers).toBe(41);
    expect(hot.uniqueViewersToday).toBe(41);
    expect(hot.perMinute.reduce((s, m) => s + m.views, 0)).toBe(61);

    const trending = await getJson<{ items: { contentId: string; views: number }[] }>(
      svc.base,
      '/analytics/trending?window=1h&k=2',
    );
    expect(trending.items).toEqual([
      { contentId: 'hot', viewers: 41, views: 61 },
      { contentId: 'warm', viewers: 40, views: 40 },
    ]);
    // Users u0..u39 viewed both hot (i < 60) and warm (i >= 60): co-viewed.
    const recs = await getJson<{ items: { contentId: string; coViews: number }[] }>(
      svc.base,
      '/analytics/content/warm/recommendations?k=5',
    );
    expect(recs.items[0]?.contentId).toBe('hot');
    expect(recs.items.map((r) => r.contentId)).toContain('cold');
  });

  it('rejects invalid events with 400 and stores nothing from a bad batch', async () => {
    const bad = await postEvents(svc.base, {
      events: [view('ok-1', 'x'), { id: 'no-type', contentId: 'x' }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'INVALID_EVENTS', status: 400 });
    expect((await postEvents(svc.base, { events: [] })).status).toBe(400);
    expect(
      (await postEvents(svc.base, { events: Array.from({ length: 1001 }, (_, i) => view(`big-${i}`, 'x')) }))
        .status,
    ).toBe(400);
    expect((await postEvents(svc.base, view('future', 'x', 'u', Date.now() + 86_400_000))).status).toBe(400);
    expect((await getJson<Stats>(svc.base, '/analytics/content/x/stats')).views).toBe(0);
    expect((await fetch(`${svc.base}/analytics/trending?window=1y`)).status).toBe(400);
    expect((await fetch(`${svc.base}/analytics/trending?k=0`)).status).toBe(400);
  });

  it('never answers 5xx to hostile bodies and query strings (property test)', async () => {
    const hostileValue = fc.oneof(
      fc.anything(),
      fc.record({
        id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        type: fc.oneof(fc.string(), fc.constant('view')),
        contentId: fc.oneof(fc.string({ maxLength: 300 }), fc.object()),
        userId: fc.oneof(fc.string(), fc.array(fc.string())),
        ts: fc.oneof(fc.double(), fc.string(), fc.bigInt().map(String), fc.constant(-1)),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
          fc.array(hostileValue, { maxLength: 5 }).map((events) => JSON.stringify({ events })),
          fc.string(),
          fc.constantFrom('{"events":', '[]', '{"events":{}}', '{"__proto__":{"events":[1]}}', '\u0000'),
        ),
        async (body) => {
          const res = await fetch(`${svc.base}/analytics/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...PRODUCER },
            body,
          });
          await res.arrayBuffer();
          return res.status < 500;
        },
      ),
      { numRuns: 1000 },
    );
    await fc.assert(
      fc.asyncProperty(fc.string(), fc.string(), fc.string(), async (id, window, k) => {
        const q = (s: string) => encodeURIComponent(s);
        for (const path of [
          `/analytics/content/${q(id)}/stats?minutes=${q(k)}`,
          `/analytics/trending?window=${q(window)}&k=${q(k)}`,
          `/analytics/content/${q(id)}/recommendations?k=${q(k)}`,
        ]) {
          const res = await fetch(`${svc.base}${path}`);
          await res.arrayBuffer();
          if (res.status >= 500) return false;
        }
        return true;
      }),
      { numRuns: 60 },
    );
  }, 300_000);

  it('consumes content.viewed and content.uploaded from the bus, idempotently', async () => {
    const bus = openEmbeddedBus(join(dir, 'main', 'bus'));
    try {
      await bus.publish('content.uploaded', {
        id: 'evt-up-1',
        type: 'content.uploaded',
        contentId: 'busy',
        userId: 'owner',
      });
      for (let i = 0; i < 5; i++) {
        await bus.publish('content.viewed', {
          id: `evt-view-${i}`,
          type: 'view',
          contentId: 'busy',
          userId: `v${i}`,
          ts: Date.now(),
        });
      }
      // A redelivered/replayed event with the same id must not count twice.
      await bus.publish('content.viewed', {
        id: 'evt-view-0',
        type: 'view',
        contentId: 'busy',
        userId: 'v0',
        ts: Date.now(),
      });
      await bus.publish('content.viewed', {
        id: 'evt-anon',
        type: 'view',
        contentId: 'busy',
        userId: 'anonymous',
        ts: Date.now(),
      });
    } finally {
      await bus.close();
    }
    const stats = await until(
      () => getJson<Stats>(svc.base, '/analytics/content/busy/stats'),
      (s) => s.views >= 6 && s.uploads >= 1,
      'bus events to be projected',
    );
    expect(stats).toMatchObject({ views: 6, uploads: 1, uniqueViewers: 5 });
    // The same event arriving over HTTP is a duplicate too.
    expect((await postEvents(svc.base, view('evt-view-1', 'busy', 'v1'))).body).toEqual({
      accepted: 0,
      duplicates: 1,
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await getJson<Stats>(svc.base, '/analytics/content/busy/stats')).views).toBe(6);
  });

  it('exposes health, readiness and metrics', async () => {
    expect((await fetch(`${svc.base}/healthz`)).status).toBe(200);
    expect(await getJson(svc.base, '/readyz')).toMatchObject({ status: 'ready' });
    const metrics = await (await fetch(`${svc.base}/metrics`)).text();
    expect(metrics).toContain('route="/analytics/events"');
  });

  it('drains and exits 0 on SIGTERM', async () => {
    svc.proc.kill('SIGTERM');
    expect(await svc.exited).toBe(0);
  });
});

describe('events tied to identity', () => {
  it('binds user events to the token, refuses server types, limits per user, and ranks by distinct users', async () => {
    const svc = await start('identity', {
      ANALYTICS_USER_EVENTS_PER_S: '10',
      ANALYTICS_USER_EVENTS_BURST: '1000',
    });
    const mallory = { 'x-user-id': 'mallory', 'x-user-role': 'viewer' };
    // No identity at all (not through the gateway): refused.
    expect((await postEvents(svc.base, view('anon-1', 'x'), {})).status).toBe(401);
    // A user may not record uploads, which only the platform produces.
    const upload = await postEvents(
      svc.base,
      { id: 'up-1', type: 'upload', contentId: 'x', userId: 'victim' },
      mallory,
    );
    expect(upload.status).toBe(403);
    expect(upload.body).toMatchObject({ code: 'EVENT_TYPE_FORBIDDEN' });
    // 1000 forged views "from 1000 users" in one batch: accepted, but all of them are mallory's.
    const forged = Array.from({ length: 1000 }, (_, i) => view(`forged-${i}`, 'forged', `fake-user-${i}`));
    expect((await postEvents(svc.base, { events: forged }, mallory)).status).toBe(202);
    // Her budget is spent: the next batch is 429 with a Retry-After.
    const more = await fetch(`${svc.base}/analytics/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...mallory },
      body: JSON.stringify({ events: forged.slice(0, 100).map((e) => ({ ...e, id: `more-${e.id}` })) }),
    });
    expect(more.status).toBe(429);
    expect(Number(more.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await more.arrayBuffer();
    // Three real users view another item once each (a producer may name them).
    const real = ['ann', 'ben', 'cat'].map((u, i) => view(`real-${i}`, 'liked', u));
    expect((await postEvents(svc.base, { events: real })).status).toBe(202);
    const trending = await until(
      () =>
        getJson<{ items: { contentId: string; viewers: number; views: number }[] }>(
          svc.base,
          '/analytics/trending?window=1h&k=2',
        ),
      (t) => t.items.length === 2 && t.items.some((i) => i.contentId === 'forged' && i.views === 1000),
      'projection of the forged and the real views',
    );
    expect(trending.items).toEqual([
      { contentId: 'liked', viewers: 3, views: 3 },
      { contentId: 'forged', viewers: 1, views: 1000 },
    ]);
  });
});

describe('admission control', () => {
  it('refuses ingest with 503 INGEST_LAGGING and Retry-After while projection lags, recording nothing', async () => {
    // The projector waits an hour before it projects, so the lag only grows; no admission wait.
    const s = await start('lagging', {
      ANALYTICS_PROJECT_DELAY_MS: '3600000',
      ANALYTICS_MAX_LAG_MS: '1',
      ANALYTICS_ADMISSION_WAIT_MS: '0',
    });
    const first = await postEvents(s.base, { events: [view('lag-1', 'item-a', 'user-1')] });
    expect(first).toEqual({ status: 202, body: { accepted: 1, duplicates: 0 } });
    await until(
      () => getJson<{ lagSeconds: number }>(s.base, '/analytics/status'),
      (st) => st.lagSeconds > 0.001,
      'the first batch to be older than the lag threshold',
    );
    const res = await fetch(`${s.base}/analytics/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...PRODUCER },
      body: JSON.stringify({ events: [view('lag-2', 'item-a', 'user-2')] }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    // Load shedding: the gateway relays it and keeps the instance in rotation.
    expect(res.headers.get('x-overloaded')).toBe('true');
    expect(((await res.json()) as { code: string }).code).toBe('INGEST_LAGGING');
    const status = await getJson<{ acknowledged: number; lag: number }>(s.base, '/analytics/status');
    expect(status.acknowledged).toBe(1);
    expect(status.lag).toBe(1);
    const metrics = await (await fetch(`${s.base}/metrics`)).text();
    expect(metrics).toMatch(/^analytics_ingest_refused_total(\{[^}]*\})? 1$/m);
    s.proc.kill('SIGKILL');
  });

  it('refuses ingest while too many acknowledged events await the projector, however recent', async () => {
    const s = await start('backlog', {
      ANALYTICS_PROJECT_DELAY_MS: '3600000',
      ANALYTICS_MAX_LAG_MS: '3600000',
      ANALYTICS_MAX_BACKLOG_EVENTS: '100',
      ANALYTICS_ADMISSION_WAIT_MS: '0',
    });
    const batch = Array.from({ length: 100 }, (_, i) => view(`backlog-${i}`, 'item-a', `user-${i}`));
    expect(await postEvents(s.base, { events: batch })).toEqual({
      status: 202,
      body: { accepted: 100, duplicates: 0 },
    });
    const refused = await postEvents(s.base, { events: [view('backlog-next', 'item-a', 'user-1')] });
    expect(refused.status).toBe(503);
    expect((refused.body as { code: string }).code).toBe('INGEST_LAGGING');
    const status = await getJson<{ acknowledged: number; lagSeconds: number }>(s.base, '/analytics/status');
    expect(status.acknowledged).toBe(100);
    expect(status.lagSeconds).toBeLessThan(3600);
    s.proc.kill('SIGKILL');
  });
});

describe('durability', () => {
  it('keeps every acknowledged event across kill -9 and restart', async () => {
    const first = await start('crash');
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 100 }, (_, i) =>
        view(`k-${b}-${i}`, `item-${i % 7}`, `user-${(b * 100 + i) % 300}`),
      ),
    );
    const results = await Promise.all(batches.map((events) => postEvents(first.base, { events })));
    expect(results.every((r) => r.status === 202)).toBe(true);
    const acked = results.reduce((s, r) => s + (r.body as { accepted: number }).accepted, 0);
    expect(acked).toBe(2000);
    // No graceful anything: the process dies right after the acknowledgements.
    first.proc.kill('SIGKILL');
    await first.exited;

    const second = await start('crash');
    // Projection may trail the restart by a moment (read-your-writes is best effort within a
    // budget); the counts must converge to exactly what was acknowledged, never less or more.
    const trending = await until(
      () =>
        getJson<{ items: { contentId: string; views: number }[] }>(
          second.base,
          '/analytics/trending?window=1h&k=100',
        ),
      (t) => t.items.reduce((s, i) => s + i.views, 0) >= 2000,
      'projection after restart',
    );
    expect(trending.items.reduce((s, i) => s + i.views, 0)).toBe(2000);
    expect(trending.items).toHaveLength(7);
    // The duplicate window was rebuilt from the log: a replayed batch is recognised.
    expect((await postEvents(second.base, { events: batches[3] })).body).toEqual({
      accepted: 0,
      duplicates: 100,
    });
    const item0 = await getJson<Stats>(second.base, '/analytics/content/item-0/stats');
    expect(item0.views).toBe(20 * 15);
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
