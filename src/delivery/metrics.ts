/**
 * What a metric source reports about one version of a service over a window. Latencies are in
 * milliseconds, the error rate is a fraction (0.01 = 1%). A field is undefined when the source has
 * no data for it (e.g. percentiles of zero requests): missing data is never treated as good data.
 */
export interface VersionMetrics {
  requests: number;
  errors: number;
  errorRate?: number | undefined;
  p50?: number | undefined;
  p95?: number | undefined;
  p99?: number | undefined;
  /** Source-specific metrics (e.g. a PromQL query per name), dimensionless. */
  custom?: Record<string, number | undefined>;
}

/** The stable and canary measurements an analysis compares. */
export interface MetricPair {
  stable: VersionMetrics;
  canary: VersionMetrics;
}

/** Where measurements come from: the gateway's stats by default, Prometheus later. */
export interface MetricSource {
  readonly name: string;
  /** Custom metric names this source can answer, so conditions can be checked before a rollout. */
  readonly customMetrics?: readonly string[];
  query(service: string, version: string, windowMs: number): Promise<VersionMetrics>;
}

export const EMPTY_METRICS: VersionMetrics = { requests: 0, errors: 0 };
