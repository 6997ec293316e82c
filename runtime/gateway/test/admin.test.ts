import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StatsWindow } from '../src/stats-window.ts';
import {
  ADMIN_TOKEN,
  admin,
  echoUpstream,
  listen,
  startGateway,
  type TestGateway,
  type TestServer,
} from './helpers.ts';

describe('admin API', () => {
  let slow: TestServer;
  let broken: TestServer;
  let extra: TestServer;
  let gw: TestGateway;

  beforeAll(async () => {
    // Answers after ?ms=N milliseconds: a known latency for the stats check.
    slow = await listen((req, res) => {
      const ms = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('ms') ?? 0);
      setTimeout(() => res.end('ok'), ms);
    });
    broken = await listen((_req, res) => {
      res.writeHead(500).end('boom');
    });
    extra = await echoUpstream('extra');
    gw = await startGateway(
      {
        routes: [
          { prefix: '/api', service: 'api', auth: 'none' },
          { prefix: '/new', service: 'new', auth: 'none' },
        ],
        services: {
          api: {
            instances: [
              { id: 'slow', url: slow.url, version: 'v1' },
              { id: 'broken', url: broken.url, version: 'v2' },
            ],
            weights: { v1: 100, v2: 0 },
          },
        },
      },
      { ADMIN_TOKEN },
    );
  });

  afterAll(async () => {
    await gw.close();
    await Promise.all([slow.close(), broken.close(), extra.close()]);
  });

  it('refuses a missing or wrong token with 401', async () => {
    expect((await fetch(`${gw.url}/admin/state`)).status).toBe(401);
    expect((await admin(gw, 'GET', '/admin/state', undefined, 'wrong')).status).toBe(401);
    expect((await admin(gw, 'GET', '/admin/state', undefined, `${ADMIN_TOKEN}x`)).status).toBe(401);
    expect((await admin(gw, 'GET', '/admin/state')).status).toBe(200);
  });

  it('is disabled without ADMIN_TOKEN', async () => {
    const off = await startGateway({ routes: [] });
    const r = await admin(off, 'GET', '/admin/state');
    expect(r.status).toBe(404);
    await off.close();
  });

  it('validates bodies and reports every problem', async () => {
    const bad = await admin(gw, 'PUT', '/admin/services/api/traffic', { weights: { v1: -5 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain('weights');
    const badJson = await fetch(`${gw.url}/admin/faults`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: '{nope',
    });
    expect(badJson.status).toBe(400);
    expect((await admin(gw, 'PUT', '/admin/faults', { service: 'api', abortPct: 150 })).status).toBe(400);
    expect((await admin(gw, 'GET', '/admin/stats?window=banana')).status).toBe(400);
    expect((await admin(gw, 'POST', '/admin/state')).status).toBe(404);
  });

  it('never answers 5xx to hostile admin bodies', async () => {
    const paths = ['/admin/services/fuzz/traffic', '/admin/services/fuzz/instances', '/admin/faults'];
    const body = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 200 }),
      fc
        .record({ weights: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue()) })
        .map((v) => JSON.stringify(v)),
      fc
        .record({ service: fc.string({ maxLength: 10 }), abortPct: fc.double(), delayMs: fc.integer() })
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom('PUT', 'POST'),
        body,
        async (path, method, text) => {
          const r = await fetch(`${gw.url}${path}`, {
            method,
            headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
            body: text,
          });
          await r.arrayBuffer();
          expect(r.status, `${method} ${path} ${text}`).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
    await admin(gw, 'DELETE', '/admin/faults');
  });

  it('adds instances live to a service that had none', async () => {
    expect((await fetch(`${gw.url}/new/x`)).status).toBe(503);
    const r = await admin(gw, 'PUT', '/admin/services/new/instances', {
      instances: [{ id: 'e1', url: extra.url, version: '2.0.0' }],
    });
    expect(r.status).toBe(200);
    expect(((await (await fetch(`${gw.url}/new/x`)).json()) as { name: string }).name).toBe('extra');
    const state = (await (await admin(gw, 'GET', '/admin/state')).json()) as {
      services: Record<string, { instances: { id: string; healthy: boolean; state: string }[] }>;
    };
    expect(state.services.new?.instances).toEqual([
      expect.objectContaining({ id: 'e1', healthy: true, state: 'closed' }),
    ]);
  });

  it('reports per-version percentiles, requests and errors over the window', async () => {
    // 20 requests with latencies 50, 100, …, 1000 ms, in parallel.
    const latencies = Array.from({ length: 20 }, (_, i) => (i + 1) * 50);
    await Promise.all(latencies.map((ms) => fetch(`${gw.url}/api/x?ms=${ms}`).then((r) => r.text())));
    for (let i = 0; i < 4; i++) await fetch(`${gw.url}/api/x`, { headers: { 'x-canary': 'v2' } });

    const r = await admin(gw, 'GET', '/admin/stats?window=30s');
    const stats = (await r.json()) as {
      windowMs: number;
      services: Record<
        string,
        { total: { requests: number }; versions: Record<string, Record<string, number>> }
      >;
    };
    expect(stats.windowMs).toBe(30_000);
    const v1 = stats.services.api?.versions.v1 as Record<string, number>;
    expect(v1.requests).toBe(20);
    expect(v1.errors).toBe(0);
    // The gateway's latency is the upstream's plus its own overhead, which depends on how busy
    // the machine is: only the upstream's share is a fact here (no timing upper bounds in tests).
    // The percentile arithmetic itself is checked exactly below, with injected times.
    expect(v1.p50).toBeGreaterThanOrEqual(500);
    expect(v1.p95).toBeGreaterThanOrEqual(950);
    expect(v1.p99).toBeGreaterThanOrEqual(1000);
    expect(v1.p50).toBeLessThan(v1.p95 as number);
    expect(v1.p95).toBeLessThanOrEqual(v1.p99 as number);
    expect(stats.services.api?.versions.v2).toMatchObject({ requests: 4, errors: 4, errorRate: 1 });
    expect(stats.services.api?.total.requests).toBe(24);
  });

  it('merges one-second buckets into the window and forgets what fell out of it', () => {
    const s = new StatsWindow();
    const t0 = 1_700_000_000_000;
    for (let i = 1; i <= 100; i++) s.record('svc', 'v1', i, i > 95, t0 + i * 100);
    const now = t0 + 10_000;
    const all = s.report(20_000, undefined, now).services.svc?.versions.v1;
    expect(all).toMatchObject({ requests: 100, errors: 5, errorRate: 0.05 });
    expect(all?.p50).toBeCloseTo(50, 0);
    expect(all?.p99).toBeCloseTo(99, 0);
    const recent = s.report(3_000, undefined, now).services.svc?.versions.v1;
    expect(recent?.requests).toBeLessThan(50);
    expect(s.report(5_000, undefined, now + 120_000).services.svc?.versions.v1?.requests).toBe(0);
  });
});
