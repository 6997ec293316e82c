/**
 * What is known about one version of a service over a window: the one metrics type of providers
 * (`Provider.metrics`), metric sources and canary analysis. Latencies are in milliseconds, the
 * error rate is a fraction (0.01 = 1%). "No data" is always `undefined` (never 0, never NaN):
 * percentiles of zero requests or an empty histogram are unknown, and analysis treats an unknown
 * value as inconclusive, so missing data is never taken for good data.
 */
export interface VersionMetrics {
  requests: number;
  errors: number;
  errorRate?: number | undefined;
  p50?: number | undefined;
  p95?: number | undefined;
  p99?: number | undefined;
  /** Source-specific metrics (e.g. one PromQL query per name), dimensionless. */
  custom?: Record<string, number | undefined>;
}

/** Where canary analysis gets its measurements: the gateway's stats by default, Prometheus later. */
export interface MetricSource {
  readonly name: string;
  /** Custom metric names this source answers, so conditions are checked before a rollout starts. */
  readonly customMetrics?: readonly string[];
  query(service: string, version: string, windowMs: number): Promise<VersionMetrics>;
}

/**
 * Builds `VersionMetrics` from raw numbers of any source: non-finite values (NaN, Infinity) are no
 * data, and no requests means no rate and no percentiles (not zeros).
 */
export function toVersionMetrics(raw: {
  requests?: unknown;
  errors?: unknown;
  errorRate?: unknown;
  p50?: unknown;
  p95?: unknown;
  p99?: unknown;
}): VersionMetrics {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const requests = n(raw.requests) ?? 0;
  const errors = n(raw.errors) ?? 0;
  if (requests === 0) return { requests: 0, errors: 0 };
  return {
    requests,
    errors,
    errorRate: n(raw.errorRate) ?? errors / requests,
    p50: n(raw.p50),
    p95: n(raw.p95),
    p99: n(raw.p99),
  };
}
