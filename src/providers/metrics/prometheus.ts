/**
 * The Prometheus seam (a later issue fills it): each metric is a PromQL query template over
 * `$service`, `$version` and `$window`, answered through the HTTP API `GET /api/v1/query`. The
 * defaults read the gateway's own series (`gateway_requests_total`,
 * `gateway_request_duration_seconds`); `custom` adds named queries usable in conditions.
 */
import { notSupported } from '../provider.ts';
import type { MetricSource, VersionMetrics } from './source.ts';

export interface PrometheusSourceOptions {
  url: string;
  /** name → PromQL template, e.g. `sum(rate(cache_hits_total{service="$service",version="$version"}[$window]))`. */
  custom?: Record<string, string>;
}

export const DEFAULT_QUERIES = {
  requests: 'sum(increase(gateway_requests_total{service="$service",version="$version"}[$window]))',
  errors: 'sum(increase(gateway_requests_total{service="$service",version="$version",code=~"5.."}[$window]))',
  p99: '1000 * histogram_quantile(0.99, sum by (le) (rate(gateway_request_duration_seconds_bucket{service="$service",version="$version"}[$window])))',
} as const;

export class PrometheusMetricSource implements MetricSource {
  readonly name = 'prometheus';
  readonly customMetrics: readonly string[];
  readonly options: PrometheusSourceOptions;

  constructor(options: PrometheusSourceOptions) {
    this.options = options;
    this.customMetrics = Object.keys(options.custom ?? {});
  }

  query(_service: string, _version: string, _windowMs: number): Promise<VersionMetrics> {
    return Promise.reject(notSupported('local', 'Prometheus metric queries (PromQL)'));
  }
}
