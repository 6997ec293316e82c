/**
 * The generator against local servers with known behaviour: the open model holds its arrival rate,
 * and a one-off 1 s stall shows up in latencies measured from the intended send time while a closed
 * loop (and the raw, from-actual-send measurement) hides it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/load/run.ts';
import { buildSummary, type CounterMetric, type TrendMetric } from '../../src/load/summary.ts';
import { scenarioFrom } from './scenario-file.ts';
import { ok, stallOnce, startServer, type TestServer } from './servers.ts';

describe('arrival rate', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer((_req, res) => ok(res));
  });
  afterAll(() => server.close());

  it('achieves 200 requests/s for 3 s within 10%, with checks and a weighted mix', async () => {
    const scenario = scenarioFrom(`
requests:
  - { name: a, method: GET, path: '/a?i={{iter}}', weight: 3, checks: [{ status: [200] }, { jsonPath: ok, equals: true }] }
  - { name: b, method: POST, path: /b, weight: 1, body: { n: '{{randomInt 1 5}}', id: '{{uuid}}' } }
executor: { type: constant-arrival-rate, rate: 200, duration: 3s, maxInFlight: 1000 }
`);
    // maxInFlight above the 600 iterations: a busy machine that stalls this process (the server
    // runs in it too) for a second or two makes the due iterations pile up, and the default (twice
    // the rate) would drop them. Dropping is tested apart; this test is about the schedule and mix.
    const result = await runLoad(scenario, { target: server.url });
    const s = buildSummary(result);
    const count = (s.metrics.http_reqs as CounterMetric).values.count;
    expect(count).toBeGreaterThanOrEqual(540);
    expect(count).toBeLessThanOrEqual(660);
    expect(s.metrics.http_req_failed?.values).toMatchObject({ rate: 0 });
    expect(s.metrics.dropped_iterations?.values).toMatchObject({ count: 0 });
    const a = (s.metrics['http_reqs{name:a}'] as CounterMetric).values.count;
    expect(a / count).toBeGreaterThan(0.6);
    expect(a / count).toBeLessThan(0.9);
    expect(s.root_group.checks.every((c) => c.fails === 0)).toBe(true);
    expect(s.timeline.length).toBeGreaterThanOrEqual(3);
    expect(s.generator.scheduleLagMs?.avg).toBeGreaterThanOrEqual(0);
    expect(s.generator.scheduleLagMs?.max).toBeGreaterThanOrEqual(s.generator.scheduleLagMs?.avg ?? 0);
  });

  it('spreads the rate across worker threads and merges their histograms', async () => {
    const scenario = scenarioFrom(`
requests: [{ name: a, method: GET, path: /a }]
executor: { type: constant-arrival-rate, rate: 300, duration: 2s, workers: 2, maxInFlight: 1000 }
`);
    // As above: a stalled server thread must not make the workers drop iterations.
    const result = await runLoad(scenario, { target: server.url, workers: 2 });
    const s = buildSummary(result);
    expect(s.workers).toBe(Math.min(2, (await import('node:os')).availableParallelism()));
    const count = (s.metrics.http_reqs as CounterMetric).values.count;
    expect(count).toBeGreaterThanOrEqual(540);
    expect(count).toBeLessThanOrEqual(660);
    expect((s.metrics.http_req_duration as TrendMetric).values.count).toBe(count);
  });
});

describe('bounded in-flight', () => {
  it('drops and counts iterations beyond maxInFlight instead of slowing down', async () => {
    // Holds every response for 1.5 s: with at most 10 outstanding, the rest of the schedule is dropped.
    const server = await startServer((_req, res) => setTimeout(() => ok(res), 1500));
    try {
      const scenario = scenarioFrom(`
requests: [{ name: a, method: GET, path: /slow }]
executor: { type: constant-arrival-rate, rate: 100, duration: 1s, maxInFlight: 10 }
`);
      const s = buildSummary(await runLoad(scenario, { target: server.url }));
      const iterations = (s.metrics.iterations as CounterMetric).values.count;
      const dropped = (s.metrics.dropped_iterations as CounterMetric).values.count;
      expect(iterations).toBe(100);
      expect(dropped).toBe(90);
      expect((s.metrics.http_reqs as CounterMetric).values.count).toBe(10);
      // The planned load was not applied: the run measures the bound, not the server.
      expect(s.valid).toBe(false);
      expect(s.validity.reasons[0]).toContain('90 of 100 iterations were dropped');
    } finally {
      await server.close();
    }
  });
});

describe('ramping VUs', () => {
  it('ramps virtual users through stages with think time', async () => {
    const server = await startServer((_req, res) => ok(res));
    try {
      const scenario = scenarioFrom(`
requests: [{ name: a, method: GET, path: '/a?vu={{vu}}' }]
executor:
  type: ramping-vus
  startVUs: 1
  stages: [{ duration: 1s, target: 4 }, { duration: 1s, target: 4 }]
  thinkTime: { min: 5ms, max: 15ms }
`);
      const s = buildSummary(await runLoad(scenario, { target: server.url }));
      const vus = s.timeline.map((p) => p.vus);
      expect(Math.max(...vus)).toBe(4);
      // With 5-15 ms of think time 4 VUs cannot exceed ~800 requests/s.
      expect((s.metrics.http_reqs as CounterMetric).values.count).toBeGreaterThan(50);
      expect((s.metrics.http_reqs as CounterMetric).values.count).toBeLessThan(1800);
      expect(s.openModel).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe('coordinated omission', () => {
  let server: TestServer;
  beforeAll(async () => {
    // The 200th request (about 1 s into the open-model run) freezes the server for 1 s.
    server = await startServer(stallOnce(200, 1000));
  });
  afterAll(() => server.close());

  it('shows a 1 s stall in corrected percentiles that raw and closed-model percentiles hide', async () => {
    const open = scenarioFrom(`
requests: [{ name: a, method: GET, path: /a }]
executor: { type: constant-arrival-rate, rate: 200, duration: 3s, connections: 2 }
`);
    const openSummary = buildSummary(await runLoad(open, { target: server.url }));
    const d = openSummary.metrics.http_req_duration as TrendMetric;
    const corrected = d.corrected as TrendMetric['values'];
    // From the intended send time, every request scheduled during the stall waited for it.
    expect(corrected['p(99)']).toBeGreaterThanOrEqual(900);
    expect(d.values['p(99)']).toBe(corrected['p(99)']);
    // From the actual send time only the requests on the two stuck connections saw it.
    expect(corrected['p(99)'] / Math.max(d.raw['p(99)'], 0.001)).toBeGreaterThan(5);

    const closedServer = await startServer(stallOnce(200, 1000));
    try {
      const closed = scenarioFrom(`
requests: [{ name: a, method: GET, path: /a }]
executor: { type: ramping-vus, vus: 2, duration: 3s }
`);
      const closedSummary = buildSummary(await runLoad(closed, { target: closedServer.url }));
      const c = closedSummary.metrics.http_req_duration as TrendMetric;
      expect(c.corrected).toBeUndefined();
      expect(corrected['p(99)'] / Math.max(c.values['p(99)'], 0.001)).toBeGreaterThan(10);
      expect(c.values.max).toBeGreaterThanOrEqual(900);
    } finally {
      await closedServer.close();
    }
  });
});
