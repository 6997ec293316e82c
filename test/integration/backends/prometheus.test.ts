/**
 * Canary analysis from a real Prometheus: Debian's prometheus scrapes a target we control, which
 * serves gateway-style series (`gateway_requests_total`, `gateway_request_duration_seconds`) for a
 * stable and a canary version; the Prometheus metric source answers the analysis conditions.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlatformConfig } from '../../../src/core/config/schema.ts';
import { freePort } from '../../../src/core/ports.ts';
import { sleep } from '../../../src/core/sleep.ts';
import { judge } from '../../../src/delivery/analysis.ts';
import { parseCondition } from '../../../src/delivery/conditions.ts';
import {
  findPrometheusBinary,
  prometheusArgs,
  waitPrometheusReady,
  writePrometheusFiles,
} from '../../../src/observability/prometheus-server.ts';
import { PrometheusMetricSource, promLabel, renderQuery } from '../../../src/providers/metrics/prometheus.ts';

describe('PromQL rendering', () => {
  it('escapes label values and renders the window in seconds', () => {
    expect(promLabel('a"b\\c')).toBe('a\\"b\\\\c');
    expect(renderQuery('x{service="$service",version="$version"}[$window]', 'api', 'v"2', 30_000)).toBe(
      'x{service="api",version="v\\"2"}[30s]',
    );
  });
  it('reports an unreachable Prometheus as METRICS_UNAVAILABLE', async () => {
    const source = new PrometheusMetricSource({
      url: `http://127.0.0.1:${await freePort()}`,
      timeoutMs: 500,
    });
    await expect(source.query('api', 'v1', 10_000)).rejects.toMatchObject({ code: 'METRICS_UNAVAILABLE' });
  });
});

const binary = findPrometheusBinary();
const skip = binary
  ? undefined
  : process.env.CI
    ? undefined // in CI a missing binary must fail the test, not skip it
    : 'prometheus is not installed (apt-get install -y prometheus); skipping outside CI';
if (skip) console.warn(skip);

describe.skipIf(skip)('Prometheus metric source (real prometheus)', () => {
  let dir: string;
  let target: Server;
  let stopProm: () => Promise<void>;
  let source: PrometheusMetricSource;
  let ticking: NodeJS.Timeout;

  beforeAll(async () => {
    if (!binary) throw new Error('prometheus binary missing in CI: apt-get install -y prometheus');
    dir = mkdtempSync(join(tmpdir(), 'prom-test-'));
    const registry = new Registry();
    const requests = new Counter({
      name: 'gateway_requests_total',
      help: 'requests',
      labelNames: ['route', 'service', 'version', 'code'],
      registers: [registry],
    });
    const duration = new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'latency',
      labelNames: ['route', 'service', 'version', 'code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });
    // Traffic: stable answers fast and never fails; the canary is slow and fails 20% of requests.
    const tick = () => {
      for (let i = 0; i < 50; i++) {
        requests.inc({ route: '/api', service: 'api', version: 'v1', code: '200' });
        duration.observe({ route: '/api', service: 'api', version: 'v1', code: '200' }, 0.008);
        const fail = i % 5 === 0;
        const code = fail ? '503' : '200';
        requests.inc({ route: '/api', service: 'api', version: 'v2', code });
        duration.observe({ route: '/api', service: 'api', version: 'v2', code }, 0.2);
      }
    };
    tick();
    ticking = setInterval(tick, 200);
    target = createServer(async (_req, res) => {
      res.setHeader('content-type', registry.contentType);
      res.end(await registry.metrics());
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const targetAddr = `127.0.0.1:${(target.address() as AddressInfo).port}`;

    // Only the name and services are read (scrape config, rules).
    const config = { name: 'promtest', services: {} } as unknown as PlatformConfig;
    const files = await writePrometheusFiles(dir, config, [{ service: 'gateway', targets: [targetAddr] }], {
      scrapeInterval: '1s',
    });
    const port = await freePort();
    const proc = spawn(binary, prometheusArgs(files, port), { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (d) => {
      log = (log + String(d)).slice(-4000);
    });
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    stopProm = async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    };
    const url = `http://127.0.0.1:${port}`;
    await waitPrometheusReady(url).catch((err: Error) => {
      throw new Error(`${err.message}\n${log}`);
    });
    source = new PrometheusMetricSource({
      url,
      custom: {
        canary_5xx_rate: 'sum(rate(gateway_requests_total{version="$version",code=~"5.."}[$window]))',
      },
    });
  }, 60_000);

  afterAll(async () => {
    clearInterval(ticking);
    await stopProm?.();
    await new Promise<void>((r) => (target ? target.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('measures both versions and fails the canary on error rate and p99', async () => {
    // Wait (bounded) until Prometheus holds enough scrapes for increase() over the window.
    let canary = await source.query('api', 'v2', 10_000);
    for (let i = 0; i < 150 && (canary.requests < 100 || canary.p99 === undefined); i++) {
      await sleep(200);
      canary = await source.query('api', 'v2', 10_000);
    }
    const stable = await source.query('api', 'v1', 10_000);
    expect(stable.requests).toBeGreaterThan(100);
    expect(stable.errors).toBe(0);
    expect(canary.errorRate).toBeGreaterThan(0.1);
    expect(canary.errorRate).toBeLessThan(0.3);
    // Histogram quantiles: stable within its 5–10 ms bucket, the canary within 100–250 ms.
    expect(stable.p99).toBeGreaterThan(5);
    expect(stable.p99).toBeLessThanOrEqual(10);
    expect(canary.p50).toBeGreaterThan(100);
    expect(canary.p99).toBeLessThanOrEqual(250);
    expect(canary.custom?.canary_5xx_rate).toBeGreaterThan(0);

    const conditions = [parseCondition('error_rate < 5%'), parseCondition('canary.p99 < 1.2 * stable.p99')];
    const verdict = judge(conditions, stable, canary, 50);
    expect(verdict.verdict).toBe('fail');
    // The stable version judged against itself passes.
    expect(judge(conditions, stable, stable, 50).verdict).toBe('pass');
    // A version Prometheus has never seen is missing data, not good data.
    const unseen = await source.query('api', 'v3', 10_000);
    expect([unseen.requests, unseen.errors, unseen.p99]).toEqual([0, 0, undefined]);
  }, 60_000);
});
