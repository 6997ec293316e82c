/**
 * The end-of-test summary in a k6-like shape (`metrics.http_req_duration.values['p(95)']`,
 * `metrics.http_reqs.values.rate`, `root_group.checks`…), extended with what k6 lacks: raw and
 * coordinated-omission-corrected latencies side by side, threshold results, the per-second timeline
 * and a latency distribution. It is what `--json` prints, `--summary-export` saves and
 * `load compare` and the HTML report read.
 */
import type { JsHistogram } from 'hdr-histogram-js';
import type { ThresholdResult } from './evaluate.ts';
import { round3, type TimelinePoint, type TrendValues, trendOf } from './metrics.ts';
import type { RunResult } from './run.ts';
import { fileDescriptorLimit, judgeValidity, type RunValidity } from './validity.ts';

export const SUMMARY_VERSION = 1;

export interface TrendMetric {
  type: 'trend';
  contains: 'time';
  /** CO-corrected for arrival-rate executors (what thresholds judge); raw for ramping-vus. */
  values: TrendValues;
  raw: TrendValues;
  /** From the intended send time; only for arrival-rate (open model) runs. */
  corrected?: TrendValues;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface RateMetric {
  type: 'rate';
  values: { rate: number; passes: number; fails: number };
  thresholds?: Record<string, { ok: boolean }>;
}

export interface CounterMetric {
  type: 'counter';
  values: { count: number; rate: number };
  thresholds?: Record<string, { ok: boolean }>;
}

export interface LoadSummary {
  version: number;
  scenario: { name: string; file: string };
  target: string;
  executor: RunResult['scenario']['executor'];
  workers: number;
  openModel: boolean;
  state: {
    startedAt: string;
    testRunDurationMs: number;
    plannedDurationMs: number;
    aborted: boolean;
    abortReason: string | null;
  };
  metrics: Record<string, TrendMetric | RateMetric | CounterMetric>;
  root_group: {
    name: string;
    path: string;
    id: string;
    groups: never[];
    checks: { name: string; path: string; id: string; passes: number; fails: number }[];
  };
  /**
   * How late the generator started iterations against their schedule (open model only): a large
   * lag means the load generator, not the server, was the bottleneck.
   */
  generator: {
    scheduleLagMs: { avg: number; max: number } | null;
    /** Requests the generator could not send itself (EMFILE, EADDRNOTAVAIL...), by code; not in http_req_failed. */
    errors: Record<string, number>;
    /** The process's open-file limit during the run (Linux), null where unknown. */
    fileDescriptorLimit: { soft: number; hard: number } | null;
  };
  /** False when the generator, not the server, limited the run (see `validity.reasons`). */
  valid: boolean;
  validity: RunValidity;
  thresholds: ThresholdResult[];
  thresholdsOk: boolean;
  statuses: Record<string, number>;
  timeline: TimelinePoint[];
  /** Latency distribution (corrected in the open model): bucket upper bounds in ms and counts. */
  histogram: { le: number; count: number }[];
}

export function buildSummary(r: RunResult): LoadSummary {
  const agg = r.aggregate;
  const validity = judgeValidity(agg, r.openModel, r.scenario.validity);
  const seconds = Math.max(r.elapsedMs / 1000, 0.001);
  const metrics: LoadSummary['metrics'] = {};
  const trend = (match?: (n: string) => boolean): TrendMetric => {
    const raw = trendOf(agg.merged('raw', match));
    const corrected = r.openModel ? trendOf(agg.merged('corrected', match)) : undefined;
    return {
      type: 'trend',
      contains: 'time',
      values: corrected ?? raw,
      raw,
      ...(corrected ? { corrected } : {}),
    };
  };
  metrics.http_req_duration = trend();
  const { count, failed } = agg.counts();
  metrics.http_req_failed = {
    type: 'rate',
    values: { rate: count ? round3(failed / count) : 0, passes: failed, fails: count - failed },
  };
  metrics.http_reqs = { type: 'counter', values: { count, rate: round3(count / seconds) } };
  metrics.iterations = {
    type: 'counter',
    values: { count: agg.iterations, rate: round3(agg.iterations / seconds) },
  };
  metrics.dropped_iterations = {
    type: 'counter',
    values: { count: agg.dropped, rate: round3(agg.dropped / seconds) },
  };
  const checks = agg.checkTotals();
  const totalChecks = checks.passes + checks.fails;
  metrics.checks = {
    type: 'rate',
    values: {
      rate: totalChecks ? round3(checks.passes / totalChecks) : 1,
      passes: checks.passes,
      fails: checks.fails,
    },
  };
  for (const name of agg.names.keys()) {
    const m = (n: string) => n === name;
    const c = agg.counts(m);
    if (c.count === 0) continue;
    metrics[`http_req_duration{name:${name}}`] = trend(m);
    metrics[`http_req_failed{name:${name}}`] = {
      type: 'rate',
      values: { rate: round3(c.failed / c.count), passes: c.failed, fails: c.count - c.failed },
    };
    metrics[`http_reqs{name:${name}}`] = {
      type: 'counter',
      values: { count: c.count, rate: round3(c.count / seconds) },
    };
  }
  for (const t of r.thresholds) {
    const metric = metrics[t.metric];
    if (metric) {
      metric.thresholds ??= {};
      metric.thresholds[t.expression] = { ok: t.ok };
    }
  }
  return {
    version: SUMMARY_VERSION,
    scenario: { name: r.scenario.name, file: r.scenario.file },
    target: r.target,
    executor: r.scenario.executor,
    workers: r.workers,
    openModel: r.openModel,
    state: {
      startedAt: r.startedAt,
      testRunDurationMs: Math.round(r.elapsedMs),
      plannedDurationMs: r.plannedMs,
      aborted: r.aborted !== null,
      abortReason: r.aborted?.reason ?? null,
    },
    metrics,
    root_group: {
      name: '',
      path: '',
      id: 'd41d8cd98f00b204e9800998ecf8427e',
      groups: [],
      checks: [...agg.checks].map(([name, [passes, fails]]) => ({
        name,
        path: `::${name}`,
        id: name,
        passes,
        fails,
      })),
    },
    generator: {
      scheduleLagMs:
        r.openModel && agg.lagCount > 0
          ? { avg: round3(agg.lagSum / agg.lagCount), max: round3(agg.lagMax) }
          : null,
      errors: Object.fromEntries(agg.generatorErrors),
      fileDescriptorLimit: fileDescriptorLimit(),
    },
    valid: validity.valid,
    validity,
    thresholds: r.thresholds,
    thresholdsOk: r.thresholds.every((t) => t.ok),
    statuses: Object.fromEntries(agg.statuses),
    timeline: agg.timeline,
    histogram: distribution(agg.merged(r.openModel ? 'corrected' : 'raw') as JsHistogram),
  };
}

/**
 * Counts per log-spaced bucket (about 4 per decade) from the exact HdrHistogram counts, so the
 * report's histogram is not an approximation rebuilt from percentiles.
 */
function distribution(h: JsHistogram): { le: number; count: number }[] {
  if (h.totalCount === 0) return [];
  const minMs = Math.max(h.minNonZeroValue / 1000, 0.001);
  const maxMs = h.maxValue / 1000;
  const step = 10 ** 0.25;
  const edges: number[] = [];
  for (let e = 10 ** Math.floor(Math.log10(minMs) * 4) / 4; edges.length < 60; e *= step) {
    edges.push(round3(e));
    if (e >= maxMs) break;
  }
  const counts = edges.map(() => 0);
  for (let i = 0; i < h.countsArrayLength; i++) {
    const c = h.getCountAtIndex(i);
    if (c === 0) continue;
    const ms = h.valueFromIndex(i) / 1000;
    let b = edges.findIndex((e) => ms <= e);
    if (b < 0) b = edges.length - 1;
    counts[b] = (counts[b] ?? 0) + c;
  }
  let first = counts.findIndex((c) => c > 0);
  if (first < 0) first = 0;
  return edges.map((le, i) => ({ le, count: counts[i] ?? 0 })).slice(Math.max(0, first - 1));
}
