/**
 * The gateway's per-request series are kept outside prom-client (red-series.ts) for speed; a scrape
 * must still read exactly what prom-client's own Counter and Histogram would have written.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS, GatewayMetrics } from '../src/metrics.ts';
import { RedSeries } from '../src/red-series.ts';

const NAMES = {
  requestsName: 'gateway_requests_total',
  requestsHelp: 'Requests answered',
  durationName: 'gateway_request_duration_seconds',
  durationHelp: 'Time to answer',
};

/** route, service, version, code, seconds: on bounds, between them, above the last, zero. */
const OBSERVATIONS: [string, string, string, number, number][] = [
  ['/', 'web', 'v1', 200, 0.0004],
  ['/', 'web', 'v2', 200, 0.001],
  ['/', 'web', 'v1', 503, 0.0025],
  ['/content', 'content', 'v1', 404, 0.0123],
  ['/', 'web', 'v1', 200, 31],
  ['/', 'web', 'v1', 200, 0],
  ['/content', 'content', 'none', 499, 7.5],
  ['/', 'web', 'v2', 200, 0.3],
];

function promClientRegistry(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'gateway', instance: 'gw-1' });
  const requests = new Counter({
    name: NAMES.requestsName,
    help: NAMES.requestsHelp,
    labelNames: ['route', 'service', 'version', 'code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: NAMES.durationName,
    help: NAMES.durationHelp,
    labelNames: ['route', 'service', 'version'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  for (const [route, service, version, code, seconds] of OBSERVATIONS) {
    requests.labels(route, service, version, String(code)).inc();
    duration.labels(route, service, version).observe(seconds);
  }
  return registry;
}

function redSeriesRegistry(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'gateway', instance: 'gw-1' });
  const red = new RedSeries({ ...NAMES, buckets: DURATION_BUCKETS });
  red.register(registry);
  for (const [route, service, version, code, seconds] of OBSERVATIONS)
    red.observe(route, service, version, code, seconds);
  return registry;
}

describe('RedSeries', () => {
  it('scrapes to the same text as prom-client fed the same requests', async () => {
    expect(await redSeriesRegistry().metrics()).toBe(await promClientRegistry().metrics());
  });

  it('gives the same JSON as prom-client, exemplars aside (none are kept)', async () => {
    const withoutExemplars = JSON.parse(
      JSON.stringify(await promClientRegistry().getMetricsAsJSON(), (key, value) =>
        key === 'exemplar' ? undefined : value,
      ),
    );
    expect(await redSeriesRegistry().getMetricsAsJSON()).toEqual(withoutExemplars);
  });

  it('starts over on a registry reset, as prom-client metrics do', async () => {
    const registry = redSeriesRegistry();
    registry.resetMetrics();
    const text = await registry.metrics();
    expect(text).toContain('# TYPE gateway_requests_total counter');
    expect(text).not.toMatch(/^gateway_requests_total\{/m);
    expect(text).not.toMatch(/^gateway_request_duration_seconds_count\{/m);
  });

  it('is what GatewayMetrics exposes', async () => {
    const metrics = new GatewayMetrics();
    metrics.observe('/', 'web', 'v1', 200, 0.002);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^gateway_requests_total\{route="\/",service="web",version="v1",code="200"\} 1$/m);
    expect(text).toMatch(
      /^gateway_request_duration_seconds_bucket\{le="0.0025",route="\/",service="web",version="v1"\} 1$/m,
    );
  });
});
