import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RetryBudget } from '../../lib/retry-budget.ts';
import { CircuitBreaker } from '../src/circuit-breaker.ts';
import {
  ADMIN_TOKEN,
  admin,
  deadUrl,
  echoUpstream,
  listen,
  startGateway,
  type TestGateway,
} from './helpers.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function state(gw: TestGateway, service: string) {
  const body = (await (await admin(gw, 'GET', '/admin/state')).json()) as {
    services: Record<string, { instances: { id: string; state: string; ejections: number }[] }>;
  };
  return body.services[service]!.instances;
}

async function metric(gw: TestGateway, name: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

describe('retries', () => {
  it('retries idempotent requests on a dead instance, but not POSTs', async () => {
    const good = await echoUpstream('good');
    const dead = await deadUrl();
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: {
          api: {
            instances: [
              { id: 'dead', url: dead },
              { id: 'good', url: good.url },
            ],
          },
        },
      },
      { BREAKER_FAILURES: '1000', ADMIN_TOKEN },
    );
    cleanup.push(good.close, gw.close);
    for (let i = 0; i < 10; i++) expect((await fetch(`${gw.url}/api/x`)).status).toBe(200);
    expect(await metric(gw, 'gateway_upstream_retries_total')).toBeGreaterThan(0);
    const posts = await Promise.all(
      Array.from({ length: 10 }, () =>
        fetch(`${gw.url}/api/x`, { method: 'POST', body: 'x' }).then((r) => r.status),
      ),
    );
    expect(posts).toContain(502);
    // Small idempotent bodies are buffered, so a PUT can be replayed on the good instance.
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${gw.url}/api/x`, { method: 'PUT', body: 'hello' });
      expect(r.status).toBe(200);
      expect(((await r.json()) as { bodyLength: number }).bodyLength).toBe(5);
    }
  });

  it('stops retrying when the retry budget is spent', async () => {
    const good = await echoUpstream('good');
    const dead = await deadUrl();
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: {
          api: {
            instances: [
              { id: 'dead', url: dead },
              { id: 'good', url: good.url },
            ],
          },
        },
      },
      { BREAKER_FAILURES: '1000', RETRY_BUDGET_RATIO: '0', RETRY_BUDGET_MIN: '2' },
    );
    cleanup.push(good.close, gw.close);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await fetch(`${gw.url}/api/x`)).status);
    expect(await metric(gw, 'gateway_upstream_retries_total')).toBe(2);
    expect(statuses.filter((s) => s === 502).length).toBeGreaterThan(0);
  });
});

describe('circuit breaker', () => {
  it('ejects an instance after consecutive failures and brings it back through a half-open probe', async () => {
    let healthy = false;
    let hits = 0;
    const flaky = await listen((_req: IncomingMessage, res: ServerResponse) => {
      hits++;
      res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'down');
    });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'flaky', url: flaky.url }] } },
      },
      { BREAKER_FAILURES: '3', BREAKER_COOLDOWN_MS: '300', ADMIN_TOKEN },
    );
    cleanup.push(flaky.close, gw.close);

    for (let i = 0; i < 3; i++) expect((await fetch(`${gw.url}/api`)).status).toBe(503);
    expect((await state(gw, 'api'))[0]).toMatchObject({ state: 'open', ejections: 1 });
    const ejected = await fetch(`${gw.url}/api`);
    expect(ejected.status).toBe(503);
    expect(((await ejected.json()) as { code: string }).code).toBe('NO_HEALTHY_UPSTREAM');
    expect(ejected.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(hits).toBe(3);
    expect(await metric(gw, 'gateway_upstream_ejections_total')).toBe(1);

    // A failed probe ejects it again.
    await sleep(350);
    expect((await fetch(`${gw.url}/api`)).status).toBe(503);
    expect(hits).toBe(4);
    expect((await state(gw, 'api'))[0]).toMatchObject({ state: 'open', ejections: 2 });

    healthy = true;
    await sleep(350);
    expect((await state(gw, 'api'))[0]?.state).toBe('half-open');
    expect((await fetch(`${gw.url}/api`)).status).toBe(200);
    expect((await state(gw, 'api'))[0]?.state).toBe('closed');
    for (let i = 0; i < 5; i++) expect((await fetch(`${gw.url}/api`)).status).toBe(200);
  });

  it('lets exactly one probe through while half-open', () => {
    const b = new CircuitBreaker({ failures: 2, cooldownMs: 100 });
    b.failure(0);
    b.failure(0);
    expect(b.available(50)).toBe(false);
    expect(b.available(100)).toBe(true);
    b.acquire(100);
    expect(b.available(101)).toBe(false);
    b.success();
    expect(b.available(102)).toBe(true);
  });
});

describe('retry budget', () => {
  it('allows a minimum plus a ratio of recent requests, over a sliding window', () => {
    const budget = new RetryBudget({ ratio: 0.2, minPerWindow: 3, windowMs: 10_000 });
    let t = 1_000_000;
    for (let i = 0; i < 3; i++) expect(budget.tryRetry(t)).toBe(true);
    expect(budget.tryRetry(t)).toBe(false);
    for (let i = 0; i < 50; i++) budget.recordRequest(t);
    for (let i = 0; i < 7; i++) expect(budget.tryRetry(t)).toBe(true);
    expect(budget.tryRetry(t)).toBe(false);
    t += 11_000;
    expect(budget.tryRetry(t)).toBe(true);
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once a client has spent its burst', async () => {
    const up = await echoUpstream('up');
    const gw = await startGateway({
      routes: [
        { prefix: '/api', service: 'api', auth: 'none', rateLimit: { rps: 0.5, burst: 3 } },
        { prefix: '/other', service: 'api', auth: 'none', rateLimit: { rps: 0.5, burst: 1 } },
      ],
      services: { api: { instances: [{ id: 'up', url: up.url }] } },
    });
    cleanup.push(up.close, gw.close);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${gw.url}/api/x`);
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(await metric(gw, 'gateway_rate_limited_total')).toBe(2);
    // Each route with its own limit keeps its own bucket per client.
    expect((await fetch(`${gw.url}/other/x`)).status).toBe(200);
    expect((await fetch(`${gw.url}/other/x`)).status).toBe(429);
  });
});

describe('fault injection', () => {
  it('delays and aborts per service and version, and clears', async () => {
    const v1 = await echoUpstream('v1');
    const v2 = await echoUpstream('v2');
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: {
          api: {
            instances: [
              { id: 'a', url: v1.url, version: 'v1' },
              { id: 'b', url: v2.url, version: 'v2' },
            ],
            weights: { v1: 50, v2: 50 },
          },
        },
      },
      { ADMIN_TOKEN },
    );
    cleanup.push(v1.close, v2.close, gw.close);

    const created = await admin(gw, 'PUT', '/admin/faults', {
      service: 'api',
      version: 'v2',
      abortPct: 100,
      abortStatus: 503,
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const aborted = await fetch(`${gw.url}/api/x`, { headers: { 'x-canary': 'v2' } });
    expect(aborted.status).toBe(503);
    expect(((await aborted.json()) as { code: string }).code).toBe('FAULT_INJECTED');
    expect((await fetch(`${gw.url}/api/x`, { headers: { 'x-canary': 'v1' } })).status).toBe(200);

    await admin(gw, 'PUT', '/admin/faults', { service: 'api', route: '/api/slow', delayMs: 150 });
    const t0 = performance.now();
    expect((await fetch(`${gw.url}/api/slow`, { headers: { 'x-canary': 'v1' } })).status).toBe(200);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(145);

    expect((await admin(gw, 'DELETE', `/admin/faults/${id}`)).status).toBe(200);
    expect((await fetch(`${gw.url}/api/x`, { headers: { 'x-canary': 'v2' } })).status).toBe(200);
    expect(((await (await admin(gw, 'DELETE', '/admin/faults')).json()) as { removed: number }).removed).toBe(
      1,
    );
    expect((await admin(gw, 'DELETE', `/admin/faults/${id}`)).status).toBe(404);
  });
});
