/**
 * Thresholds in k6's syntax: a metric (optionally filtered by tags, `http_req_duration{name:upload}`)
 * and expressions such as `p(95)<200`, `avg<100`, `rate<0.01`, `count>100`.
 */
import type { Comparator } from '../core/compare.ts';

export const METRIC_KINDS = {
  http_req_duration: 'trend',
  http_req_failed: 'rate',
  http_reqs: 'counter',
  checks: 'rate',
  iterations: 'counter',
  dropped_iterations: 'counter',
} as const;
export type MetricName = keyof typeof METRIC_KINDS;

const STATS_BY_KIND = {
  trend: /^(avg|min|med|max|p\((\d+(?:\.\d+)?)\))$/,
  rate: /^(rate)$/,
  counter: /^(count|rate)$/,
} as const;

export interface ThresholdKey {
  metric: MetricName;
  tags: Record<string, string>;
}

export interface ThresholdExpression {
  /** avg, min, med, max, p(95), rate or count. */
  stat: string;
  /** Percentile for p(N). */
  percentile?: number;
  op: Comparator;
  value: number;
}

/** Parses `metric{tag:value,tag2:value2}`; returns an error message when invalid. */
export function parseThresholdKey(key: string): ThresholdKey | string {
  const m = /^([a-z_]+)(?:\{([^}]*)\})?$/.exec(key.trim());
  if (!m) return `"${key}" is not a metric name with optional {tag:value} filter`;
  const metric = m[1] as string;
  if (!(metric in METRIC_KINDS)) return `unknown metric "${metric}"`;
  const tags: Record<string, string> = {};
  for (const part of (m[2] ?? '').split(',').filter((p) => p.trim())) {
    const [k, ...rest] = part.split(':');
    const value = rest.join(':').trim();
    if (!k?.trim() || !value) return `tag filter "${part}" must be written tag:value`;
    tags[k.trim()] = value;
  }
  return { metric: metric as MetricName, tags };
}

/** Parses one expression for a metric; returns an error message when invalid. */
export function parseThresholdExpression(expr: string, metric: MetricName): ThresholdExpression | string {
  const m = /^\s*([a-z]+(?:\(\s*[\d.]+\s*\))?)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(expr);
  if (!m) return `cannot parse threshold "${expr}"`;
  const stat = (m[1] as string).replace(/\s+/g, '');
  const kind = METRIC_KINDS[metric];
  const sm = STATS_BY_KIND[kind].exec(stat);
  if (!sm) {
    const allowed = kind === 'trend' ? 'avg, min, med, max, p(N)' : kind === 'rate' ? 'rate' : 'count, rate';
    return `"${stat}" does not apply to ${metric} (a ${kind}); use ${allowed}`;
  }
  const percentile = sm[2] !== undefined ? Number(sm[2]) : undefined;
  if (percentile !== undefined && (percentile <= 0 || percentile > 100)) {
    return `percentile ${percentile} must be in (0, 100]`;
  }
  return {
    stat,
    ...(percentile !== undefined ? { percentile } : {}),
    op: m[2] as ThresholdExpression['op'],
    value: Number(m[3]),
  };
}
