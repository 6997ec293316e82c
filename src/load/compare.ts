/**
 * Regression check between two summaries (stable vs canary, main vs PR): latency and error rate
 * must not go up, throughput must not go down, by more than a tolerance.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PlatformError, UsageError } from '../core/errors.ts';

export const COMPARE_METRICS = ['p50', 'p90', 'p95', 'p99', 'avg', 'max', 'error_rate', 'rps'] as const;
export type CompareMetric = (typeof COMPARE_METRICS)[number];
export const DEFAULT_COMPARE_METRICS: CompareMetric[] = ['p95', 'p99', 'error_rate', 'rps'];

/** Latency changes smaller than this (ms) are noise, never a regression. */
const LATENCY_FLOOR_MS = 1;
/** Error-rate changes smaller than this (0.1 percentage point) are noise. */
const ERROR_RATE_FLOOR = 0.001;

const trend = z.looseObject({
  avg: z.number(),
  med: z.number(),
  max: z.number(),
  'p(90)': z.number(),
  'p(95)': z.number(),
  'p(99)': z.number(),
});
const summaryShape = z.looseObject({
  scenario: z.looseObject({ name: z.string() }).optional(),
  target: z.string().optional(),
  executor: z.looseObject({ type: z.string() }).optional(),
  valid: z.boolean().optional(),
  metrics: z.looseObject({
    http_req_duration: z.looseObject({ values: trend }),
    http_req_failed: z.looseObject({ values: z.looseObject({ rate: z.number() }) }),
    http_reqs: z.looseObject({ values: z.looseObject({ count: z.number(), rate: z.number() }) }),
  }),
});
type SummaryShape = z.output<typeof summaryShape>;

export interface CompareRow {
  metric: CompareMetric;
  baseline: number;
  candidate: number;
  delta: number;
  /** Relative change in percent (null when the baseline is 0). */
  deltaPct: number | null;
  better: 'lower' | 'higher';
  regression: boolean;
}

export interface CompareResult {
  baseline: string;
  candidate: string;
  tolerancePct: number;
  rows: CompareRow[];
  regressed: boolean;
  /**
   * Why the two runs may not be comparable (different scenario, target or load, an invalid run);
   * the comparison is still made, but a difference may come from these and not from the change.
   */
  mismatches: string[];
}

/** The load a run was asked to apply, in words: rate or VUs, with its duration or stages. */
function describeLoad(ex: Record<string, unknown>): string {
  const { type, rate, timeUnit, duration, startRate, stages, vus, startVUs } = ex;
  return JSON.stringify({ type, rate, timeUnit, duration, startRate, stages, vus, startVUs });
}

/** The differences between two runs that make their figures hard to compare. */
export function comparability(a: SummaryShape, b: SummaryShape): string[] {
  const out: string[] = [];
  if (a.scenario?.name !== b.scenario?.name)
    out.push(`different scenarios: "${a.scenario?.name ?? '?'}" and "${b.scenario?.name ?? '?'}"`);
  if (a.target !== b.target) out.push(`different targets: ${a.target ?? '?'} and ${b.target ?? '?'}`);
  if (a.executor && b.executor && describeLoad(a.executor) !== describeLoad(b.executor)) {
    out.push(`different load: ${describeLoad(a.executor)} and ${describeLoad(b.executor)}`);
  }
  if (a.valid === false) out.push('the baseline run is invalid (the generator limited it)');
  if (b.valid === false) out.push('the candidate run is invalid (the generator limited it)');
  return out;
}

export function readSummary(file: string): SummaryShape {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      'pass a file written by load run --summary-export (or --json)',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(
      `${file} is not JSON`,
      'pass a file written by load run --summary-export (or --json)',
    );
  }
  const parsed = summaryShape.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PlatformError(
      'LOAD_SUMMARY_INVALID',
      `${file} is not a load summary (${issue?.path.join('.')}: ${issue?.message})`,
      {
        hint: 'pass a file written by load run --summary-export (or --json)',
      },
    );
  }
  return parsed.data;
}

export function parseTolerance(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*%?$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid tolerance "${text}"`, 'write a percentage such as 10%');
  return Number(m[1]);
}

export function parseMetrics(text: string): CompareMetric[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const m of list) {
    if (!(COMPARE_METRICS as readonly string[]).includes(m)) {
      throw new UsageError(
        `unknown metric "${m}"`,
        `use a comma-separated list of: ${COMPARE_METRICS.join(', ')}`,
      );
    }
  }
  return list as CompareMetric[];
}

function metricValue(s: SummaryShape, metric: CompareMetric): number {
  const d = s.metrics.http_req_duration.values;
  switch (metric) {
    case 'p50':
      return d.med;
    case 'p90':
      return d['p(90)'];
    case 'p95':
      return d['p(95)'];
    case 'p99':
      return d['p(99)'];
    case 'avg':
      return d.avg;
    case 'max':
      return d.max;
    case 'error_rate':
      return s.metrics.http_req_failed.values.rate;
    case 'rps':
      return s.metrics.http_reqs.values.rate;
  }
}

export function compareSummaries(
  baselineFile: string,
  candidateFile: string,
  tolerancePct: number,
  metrics: CompareMetric[] = DEFAULT_COMPARE_METRICS,
): CompareResult {
  const a = readSummary(baselineFile);
  const b = readSummary(candidateFile);
  const tol = tolerancePct / 100;
  const rows = metrics.map((metric): CompareRow => {
    const baseline = metricValue(a, metric);
    const candidate = metricValue(b, metric);
    const delta = candidate - baseline;
    const deltaPct = baseline === 0 ? null : Math.round((delta / baseline) * 10_000) / 100;
    let regression: boolean;
    let better: CompareRow['better'] = 'lower';
    if (metric === 'rps') {
      better = 'higher';
      regression = candidate < baseline * (1 - tol);
    } else if (metric === 'error_rate') {
      regression = delta > Math.max(baseline * tol, ERROR_RATE_FLOOR);
    } else {
      regression = delta > Math.max(baseline * tol, LATENCY_FLOOR_MS);
    }
    return {
      metric,
      baseline,
      candidate,
      delta: Math.round(delta * 1000) / 1000,
      deltaPct,
      better,
      regression,
    };
  });
  return {
    baseline: baselineFile,
    candidate: candidateFile,
    tolerancePct,
    rows,
    regressed: rows.some((r) => r.regression),
    mismatches: comparability(a, b),
  };
}
