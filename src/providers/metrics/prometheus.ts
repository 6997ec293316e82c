/**
 * Metric source over Prometheus's HTTP API (`GET /api/v1/query`, instant queries). Each metric is a
 * PromQL template over `$service`, `$version` and `$window`; the defaults read the gateway's own
 * series (`gateway_requests_total`, `gateway_request_duration_seconds`), so canary analysis and
 * chaos probes see what users see. `custom` adds named queries usable in conditions.
 *
 * Quantiles come from the histogram (`histogram_quantile`), i.e. interpolated within buckets, not
 * exact like the gateway's `/admin/stats`; counts come from `increase()`, which Prometheus
 * extrapolates to the window and which are rounded here.
 */
import { PlatformError } from '../../core/errors.ts';
import { type MetricSource, toVersionMetrics, type VersionMetrics } from './source.ts';

export interface PrometheusSourceOptions {
  url: string;
  /** name → PromQL template, e.g. `sum(rate(cache_hits_total{service="$service",version="$version"}[$window]))`. */
  custom?: Record<string, string>;
  timeoutMs?: number;
  /** Extra request headers (e.g. `authorization` for a managed Prometheus). */
  headers?: Record<string, string>;
}

const selector = 'service="$service",version="$version"';
const quantile = (q: number) =>
  `1000 * histogram_quantile(${q}, sum by (le) (rate(gateway_request_duration_seconds_bucket{${selector}}[$window])))`;

export const DEFAULT_QUERIES = {
  requests: `sum(increase(gateway_requests_total{${selector}}[$window]))`,
  errors: `sum(increase(gateway_requests_total{${selector},code=~"5.."}[$window]))`,
  p50: quantile(0.5),
  p95: quantile(0.95),
  p99: quantile(0.99),
} as const;

/** A label value inside double quotes in PromQL. */
export function promLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** PromQL range duration for a window in ms (whole seconds, at least 1 s). */
export function promWindow(windowMs: number): string {
  return `${Math.max(1, Math.round(windowMs / 1000))}s`;
}

export function renderQuery(template: string, service: string, version: string, windowMs: number): string {
  return template
    .replaceAll('$service', promLabel(service))
    .replaceAll('$version', promLabel(version))
    .replaceAll('$window', promWindow(windowMs));
}

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: { value?: [number, string] }[] | [number, string] };
}

export class PrometheusMetricSource implements MetricSource {
  readonly name = 'prometheus';
  readonly customMetrics: readonly string[];
  readonly options: PrometheusSourceOptions;
  private readonly base: string;

  constructor(options: PrometheusSourceOptions) {
    this.options = options;
    this.base = options.url.replace(/\/+$/, '');
    this.customMetrics = Object.keys(options.custom ?? {});
  }

  async query(service: string, version: string, windowMs: number): Promise<VersionMetrics> {
    const q = (t: string) => this.instant(renderQuery(t, service, version, windowMs));
    const [requests, errors, p50, p95, p99, ...custom] = await Promise.all([
      q(DEFAULT_QUERIES.requests),
      q(DEFAULT_QUERIES.errors),
      q(DEFAULT_QUERIES.p50),
      q(DEFAULT_QUERIES.p95),
      q(DEFAULT_QUERIES.p99),
      ...Object.values(this.options.custom ?? {}).map(q),
    ]);
    const metrics = toVersionMetrics({
      requests: requests === undefined ? undefined : Math.round(requests),
      // No 5xx series at all means no errors, not missing data.
      errors: errors === undefined ? 0 : Math.round(errors),
      p50,
      p95,
      p99,
    });
    if (this.customMetrics.length > 0) {
      metrics.custom = Object.fromEntries(this.customMetrics.map((name, i) => [name, custom[i]]));
    }
    return metrics;
  }

  /** One instant query → a number (the first sample), or undefined for no data / NaN. */
  async instant(promql: string): Promise<number | undefined> {
    const url = `${this.base}/api/v1/query?query=${encodeURIComponent(promql)}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { accept: 'application/json', ...this.options.headers },
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
      });
    } catch (err) {
      throw new PlatformError('METRICS_UNAVAILABLE', `Prometheus at ${this.base} does not answer`, {
        hint: 'check that Prometheus runs (`platformctl up --with prometheus` locally) and PLATFORMCTL_PROMETHEUS_URL',
        cause: err,
      });
    }
    const body = (await res.json().catch(() => undefined)) as QueryResponse | undefined;
    if (!res.ok || !body || body.status !== 'success') {
      throw new PlatformError(
        'METRICS_UNAVAILABLE',
        `Prometheus rejected a query (${res.status}): ${body?.error ?? 'no JSON answer'}`,
        {
          hint: body?.errorType === 'bad_data' ? `check the PromQL: ${promql}` : 'check the Prometheus logs',
        },
      );
    }
    const data = body.data;
    let raw: string | undefined;
    if (data?.resultType === 'vector') raw = (data.result as { value?: [number, string] }[])[0]?.value?.[1];
    else if (data?.resultType === 'scalar') raw = (data.result as [number, string])[1];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    return Number.isFinite(n) ? n : undefined;
  }
}
