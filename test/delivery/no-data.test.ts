/**
 * "No data" has one encoding (undefined, runtime/contract → VersionMetrics) on every path that
 * feeds a canary decision or a chaos steady state, and on each of them a missing value makes the
 * judgement inconclusive, never a pass: the gateway's stats, Prometheus, a provider's own metrics
 * (the Kubernetes provider over Prometheus) and the chaos probes' whole-service figures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsReport, WindowStats } from '../../runtime/contract/gateway-admin.ts';
import { serviceMetrics } from '../../src/chaos/probes.ts';
import { loadPlatform } from '../../src/core/config/load.ts';
import { judge } from '../../src/delivery/analysis.ts';
import { parseCondition } from '../../src/delivery/conditions.ts';
import type { VersionMetrics } from '../../src/delivery/metrics.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import { GatewayMetricSource } from '../../src/providers/metrics/gateway.ts';
import { PrometheusMetricSource } from '../../src/providers/metrics/prometheus.ts';
import { ProviderMetricSource } from '../../src/providers/metrics/provider-source.ts';
import type { Provider } from '../../src/providers/provider.ts';

const conditions = ['error_rate < 5%', 'p95 < 500ms'].map((c) => parseCondition(c));
const stable: VersionMetrics = { requests: 500, errors: 0, errorRate: 0, p50: 5, p95: 9, p99: 12 };
const verdict = (canary: VersionMetrics) => judge(conditions, stable, canary, 10).verdict;

let prometheus: Server;
let gateway: Server;
let promUrl: string;
let gatewayUrl: string;
let dir: string;

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  // 200 requests, no 5xx series, and histogram_quantile over empty buckets: NaN, as Prometheus answers.
  prometheus = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://p').searchParams.get('query') ?? '';
    const result = q.includes('histogram_quantile')
      ? [{ metric: {}, value: [1, 'NaN'] }]
      : q.includes('code=~') || q.includes('unknown')
        ? []
        : [{ metric: {}, value: [1, '200'] }];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  const zero: WindowStats = { requests: 0, errors: 0, errorRate: 0, rps: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  gateway = createServer((_req, res) => {
    const report: StatsReport = {
      windowMs: 10_000,
      services: { web: { total: zero, versions: { v1: zero } } },
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(report));
  });
  promUrl = await listen(prometheus);
  gatewayUrl = await listen(gateway);
  dir = mkdtempSync(join(tmpdir(), 'no-data-'));
  writeFileSync(
    join(dir, 'platform.yaml'),
    `name: shop
environments:
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, namespace: shop, registry: r.example.com, prometheus: ${promUrl} }
services:
  web: { path: services/web, port: 8080, routes: [/web] }
`,
  );
});
afterAll(async () => {
  await new Promise((r) => prometheus.close(r));
  await new Promise((r) => gateway.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('a missing value is inconclusive everywhere', () => {
  it('the gateway: a version without requests has no rate and no latency', async () => {
    const source = new GatewayMetricSource(gatewayUrl, 'token');
    for (const version of ['v1', 'v2']) {
      const m = await source.query('web', version, 10_000);
      expect(m).toEqual({ requests: 0, errors: 0 });
      expect(verdict(m)).toBe('inconclusive');
    }
  });

  it('Prometheus: requests without a histogram leave the latency unknown', async () => {
    const m = await new PrometheusMetricSource({ url: promUrl }).query('web', 'v2', 10_000);
    expect(m).toMatchObject({ requests: 200, errors: 0, errorRate: 0 });
    expect(m.p95).toBeUndefined();
    expect(verdict(m)).toBe('inconclusive');
  });

  it("a provider's own metrics (Kubernetes over Prometheus), read directly or as a metric source", async () => {
    const kube = new KubernetesProvider(loadPlatform(dir), 'staging');
    const direct = await kube.metrics('web', 'v2', 10_000);
    expect(direct.p95).toBeUndefined();
    expect(Number.isNaN(direct.p95)).toBe(false);
    expect(verdict(direct)).toBe('inconclusive');
    const viaSource = await new ProviderMetricSource(kube).query('web', 'v2', 10_000);
    expect(verdict(viaSource)).toBe('inconclusive');
  });

  it('chaos steady state: a service whose versions have no latency has none either', async () => {
    const provider = {
      status: async () => ({ services: [{ name: 'web', versions: ['v1', 'v2'] }] }),
      metrics: async () => ({ requests: 100, errors: 0, errorRate: 0 }),
    } as unknown as Provider;
    const m = await serviceMetrics(provider, 'web', 10_000);
    expect(m).toMatchObject({ requests: 200, errors: 0 });
    expect(m.p95).toBeUndefined();
    expect(verdict(m)).toBe('inconclusive');
  });
});
