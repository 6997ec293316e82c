/** Threshold evaluation against the cumulative measurements of a run. */
import { compare } from '../core/compare.ts';
import { type Aggregate, percentileMs, round3, trendOf } from './metrics.ts';
import { requestTags, type Scenario, type ThresholdSpec } from './scenario.ts';
import { type MetricName, parseThresholdExpression, parseThresholdKey } from './thresholds.ts';

export interface ThresholdResult {
  metric: string;
  expression: string;
  ok: boolean;
  /** The measured value the expression was tested against (null when there were no samples). */
  actual: number | null;
  /** The metric received no sample, so the threshold cannot be judged: it fails (fail closed). */
  noData?: true;
  abortOnFail: boolean;
}

/** Request names whose tags match a `{tag:value}` filter. */
export function nameMatcher(scenario: Scenario, tags: Record<string, string>): (name: string) => boolean {
  const entries = Object.entries(tags);
  if (entries.length === 0) return () => true;
  const names = new Set(
    scenario.requests
      .filter((r) => {
        const all = requestTags(r);
        return entries.every(([k, v]) => all[k] === v);
      })
      .map((r) => r.name),
  );
  return (name) => names.has(name);
}

/** The value of `stat` for a metric (filtered by tags) so far. */
export function statValue(
  agg: Aggregate,
  scenario: Scenario,
  metric: MetricName,
  tags: Record<string, string>,
  stat: string,
  percentile: number | undefined,
  elapsedMs: number,
): number | null {
  const match = nameMatcher(scenario, tags);
  const seconds = Math.max(elapsedMs / 1000, 0.001);
  switch (metric) {
    case 'http_req_duration': {
      const h = agg.merged('corrected', match);
      if (h.totalCount === 0) return null;
      if (percentile !== undefined) return percentileMs(h, percentile);
      const t = trendOf(h);
      return t[stat as 'avg' | 'min' | 'med' | 'max'];
    }
    case 'http_req_failed': {
      const { count, failed } = agg.counts(match);
      return count === 0 ? null : failed / count;
    }
    case 'http_reqs': {
      const { count } = agg.counts(match);
      return stat === 'count' ? count : round3(count / seconds);
    }
    case 'checks': {
      const { passes, fails } = agg.checkTotals(match);
      return passes + fails === 0 ? null : passes / (passes + fails);
    }
    case 'iterations':
      return stat === 'count' ? agg.iterations : round3(agg.iterations / seconds);
    case 'dropped_iterations':
      return stat === 'count' ? agg.dropped : round3(agg.dropped / seconds);
  }
}

export function evaluateThresholds(
  thresholds: ThresholdSpec[],
  agg: Aggregate,
  scenario: Scenario,
  elapsedMs: number,
): ThresholdResult[] {
  return thresholds.map((t) => evaluateOne(t, agg, scenario, elapsedMs));
}

function evaluateOne(
  t: ThresholdSpec,
  agg: Aggregate,
  scenario: Scenario,
  elapsedMs: number,
): ThresholdResult {
  const key = parseThresholdKey(t.key);
  const base = { metric: t.key, expression: t.expression, abortOnFail: t.abortOnFail };
  if (typeof key === 'string') return { ...base, ok: false, actual: null };
  const expr = parseThresholdExpression(t.expression, key.metric);
  if (typeof expr === 'string') return { ...base, ok: false, actual: null };
  const actual = statValue(agg, scenario, key.metric, key.tags, expr.stat, expr.percentile, elapsedMs);
  // No samples: a latency or rate threshold cannot be judged. k6 passes it; a gate that passes
  // on no evidence is how a typo or a dead endpoint ships, so it fails here as "no data".
  // Counters have a true value without samples (0).
  const value = actual ?? (expr.stat === 'count' ? 0 : null);
  if (value === null) return { ...base, ok: false, actual: null, noData: true };
  return { ...base, ok: compare(value, expr.op, expr.value), actual: round3(value) };
}

/**
 * Thresholds with abortOnFail that fail now (after their delayAbortEval). As in k6 they are judged
 * on the measurements so far, every second; a threshold without samples yet does not abort (they
 * may still come) but fails at the end if none ever came.
 */
export function abortingFailures(
  thresholds: ThresholdSpec[],
  agg: Aggregate,
  scenario: Scenario,
  elapsedMs: number,
): ThresholdResult[] {
  const eligible = thresholds.filter((t) => t.abortOnFail && elapsedMs >= t.delayAbortEval);
  if (eligible.length === 0) return [];
  return evaluateThresholds(eligible, agg, scenario, elapsedMs).filter((r) => !r.ok && !r.noData);
}
