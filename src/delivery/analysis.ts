/**
 * One analysis run: measure stable and canary every `interval`, judge each measurement with the
 * conditions, and finish with pass (`count` conclusive good measurements), fail (more than
 * `failureLimit` bad ones) or inconclusive (more than `inconclusiveLimit` measurements without
 * enough data, or `progressDeadline` reached without a verdict — the engine then rolls back or
 * holds for a human, per `onDeadline`; too little traffic never passes).
 *
 * Between measurements the early-abort check runs on every tick: a one-sided test of whether the
 * canary's error ratio since it got traffic is significantly worse than stable's (stats.ts).
 */
import type { AnalysisSpec } from '../core/config/schema.ts';
import { type Condition, type ConditionResult, evaluateCondition, type Verdict } from './conditions.ts';
import type { MetricSource, VersionMetrics } from './metrics.ts';
import { canaryErrorsWorse, type WorseVerdict } from './stats.ts';

export interface Measurement {
  /** 1-based index within the analysis. */
  index: number;
  at: string;
  windowMs: number;
  stable: VersionMetrics;
  canary: VersionMetrics;
  verdict: Verdict;
  results: ConditionResult[];
}

export interface EarlyAbortSettings {
  alpha: number;
  minErrors: number;
}

/**
 * The test runs on every tick over cumulative counts, i.e. dozens of looks per rollout, and every
 * look is a chance of a false alarm. A per-look alpha of 0.001 keeps the chance that a release
 * exactly as good as stable is aborted at about 1% over a 12 s rollout even with a 5% baseline
 * error rate (seeded simulation in test/delivery/stats.test.ts; alpha 0.01 per look gives ~5%),
 * while a release failing 20% more is still caught within 1–2 s at 200 req/s.
 */
export const DEFAULT_EARLY_ABORT: EarlyAbortSettings = { alpha: 0.001, minErrors: 3 };

export interface AnalysisOutcome {
  verdict: Verdict;
  reason: string;
  /** Inconclusive because a limit ran out (inconclusiveLimit or progressDeadline). */
  outOfTime?: 'inconclusiveLimit' | 'progressDeadline';
  measurements: Measurement[];
  /** Set when the statistical early abort ended the analysis. */
  earlyAbort?: EarlyAbortEvidence;
}

export interface EarlyAbortEvidence extends WorseVerdict {
  windowMs: number;
  stable: VersionMetrics;
  canary: VersionMetrics;
}

/** Sleeps `ms` in small ticks, calling `onTick` on each; rejects when the rollout is interrupted. */
export type Waiter = (ms: number, onTick?: () => Promise<boolean>) => Promise<boolean>;

export interface AnalysisRun {
  service: string;
  stable: string;
  canary: string;
  spec: AnalysisSpec;
  conditions: Condition[];
  source: MetricSource;
  /** Waits and runs the early-abort check; resolves true if the tick callback asked to stop. */
  wait: Waiter;
  /** Checks whether the canary is significantly worse since exposure began; undefined when fine. */
  earlyAbort: () => Promise<EarlyAbortEvidence | undefined>;
  onMeasurement?: (m: Measurement) => void;
  /**
   * Replaces the stable side of every measurement (a bake at 100% has no stable traffic: it
   * compares with stable's figures from before the switch).
   */
  baseline?: VersionMetrics;
  /** Epoch ms by which the analysis must end (default: start + spec.progressDeadline). */
  deadlineAt?: number;
  /** Measure until this epoch time, then judge the lot (a bake): pass needs `count` passes by then. */
  until?: number;
}

/** Judges one measurement: any failed condition fails it; any missing data makes it inconclusive. */
export function judge(
  conditions: Condition[],
  stable: VersionMetrics,
  canary: VersionMetrics,
  minSampleSize: number,
): { verdict: Verdict; results: ConditionResult[] } {
  const results = conditions.map((c) => evaluateCondition(c, { stable, canary }, { minSampleSize }));
  if (results.some((r) => r.verdict === 'fail')) return { verdict: 'fail', results };
  if (canary.requests < minSampleSize) {
    return {
      verdict: 'inconclusive',
      results: [
        ...results,
        {
          condition: `requests >= ${minSampleSize}`,
          verdict: 'inconclusive',
          left: canary.requests,
          right: minSampleSize,
          reason: `canary has ${canary.requests} requests, fewer than the minimum sample of ${minSampleSize}`,
        },
      ],
    };
  }
  if (results.some((r) => r.verdict === 'inconclusive')) return { verdict: 'inconclusive', results };
  return { verdict: 'pass', results };
}

export async function runAnalysis(run: AnalysisRun): Promise<AnalysisOutcome> {
  const { spec } = run;
  const measurements: Measurement[] = [];
  let passes = 0;
  let failures = 0;
  let inconclusives = 0;
  const bake = run.until !== undefined;
  const maxMeasurements = bake
    ? Number.POSITIVE_INFINITY
    : spec.count + spec.failureLimit + spec.inconclusiveLimit + 1;
  const deadlineAt = run.deadlineAt ?? Date.now() + spec.progressDeadline;
  for (let index = 1; index <= maxMeasurements; index++) {
    const remaining = (bake ? (run.until as number) : deadlineAt) - Date.now();
    if (remaining <= 0) {
      const taken = index - 1;
      if (bake && taken > 0 && passes >= Math.min(spec.count, taken)) {
        return { verdict: 'pass', reason: `${passes} of ${taken} measurements passed`, measurements };
      }
      return {
        verdict: 'inconclusive',
        outOfTime: bake ? 'inconclusiveLimit' : 'progressDeadline',
        reason: bake
          ? `only ${passes} of ${taken} measurements passed (needs ${Math.min(spec.count, Math.max(taken, 1))}): too little traffic to judge`
          : `progress deadline of ${spec.progressDeadline / 1000}s passed without a verdict (${passes} passed, ${inconclusives} inconclusive)`,
        measurements,
      };
    }
    let evidence: EarlyAbortEvidence | undefined;
    // The last interval before a deadline is cut short, so the outcome comes at the deadline.
    const windowMs = Math.max(1, Math.min(spec.interval, remaining));
    const stopped = await run.wait(windowMs, async () => {
      evidence = await run.earlyAbort();
      return evidence !== undefined;
    });
    if (stopped && evidence) {
      return {
        verdict: 'fail',
        reason: earlyAbortReason(evidence),
        measurements,
        earlyAbort: evidence,
      };
    }
    let stable: VersionMetrics = { requests: 0, errors: 0 };
    let canary: VersionMetrics = { requests: 0, errors: 0 };
    let judged: ReturnType<typeof judge>;
    try {
      [stable, canary] = await Promise.all([
        run.baseline ?? run.source.query(run.service, run.stable, windowMs),
        run.source.query(run.service, run.canary, windowMs),
      ]);
      judged = judge(run.conditions, stable, canary, spec.minSampleSize);
    } catch (err) {
      // A monitoring blip is not evidence against the release: it counts as inconclusive (never
      // as a pass), and enough of them pause the rollout for a human.
      judged = {
        verdict: 'inconclusive',
        results: [
          {
            condition: `metrics from ${run.source.name}`,
            verdict: 'inconclusive',
            reason: `metrics unavailable: ${(err as Error).message}`,
          },
        ],
      };
    }
    const { verdict, results } = judged;
    const m: Measurement = {
      index,
      at: new Date().toISOString(),
      windowMs,
      stable,
      canary,
      verdict,
      results,
    };
    measurements.push(m);
    run.onMeasurement?.(m);
    if (verdict === 'pass') passes++;
    else if (verdict === 'fail') failures++;
    else inconclusives++;
    if (failures > spec.failureLimit) {
      const failed = results.filter((r) => r.verdict === 'fail').map((r) => `${r.condition} (${r.reason})`);
      return {
        verdict: 'fail',
        reason: `${failures} failed measurement${failures > 1 ? 's' : ''} (limit ${spec.failureLimit}): ${failed.join('; ')}`,
        measurements,
      };
    }
    if (inconclusives > spec.inconclusiveLimit && !bake) {
      const why = results.find((r) => r.verdict === 'inconclusive')?.reason ?? 'not enough data';
      return {
        verdict: 'inconclusive',
        outOfTime: 'inconclusiveLimit',
        reason: `${inconclusives} inconclusive measurements (limit ${spec.inconclusiveLimit}): ${why}`,
        measurements,
      };
    }
    if (passes >= spec.count && !bake) {
      return { verdict: 'pass', reason: `${passes} of ${index} measurements passed`, measurements };
    }
  }
  return { verdict: 'inconclusive', reason: 'analysis ended without a verdict', measurements };
}

export function earlyAbortReason(e: EarlyAbortEvidence): string {
  const pct = (x: number) => `${Number((x * 100).toFixed(2))}%`;
  return (
    `canary error ratio ${pct(e.canaryRate)} (${e.canary.errors}/${e.canary.requests}) is significantly worse than ` +
    `stable ${pct(e.stableRate)} (${e.stable.errors}/${e.stable.requests}): ${e.test === 'z' ? `z-test z=${e.z?.toFixed(2)}, ` : "Fisher's exact test, "}` +
    `p=${e.pValue.toExponential(2)}`
  );
}

/** The early-abort check over a window: significant only with enough canary errors. */
export async function checkEarlyAbort(
  source: MetricSource,
  service: string,
  stableVersion: string,
  canaryVersion: string,
  windowMs: number,
  settings: EarlyAbortSettings = DEFAULT_EARLY_ABORT,
): Promise<EarlyAbortEvidence | undefined> {
  const [stable, canary] = await Promise.all([
    source.query(service, stableVersion, windowMs),
    source.query(service, canaryVersion, windowMs),
  ]);
  const v = canaryErrorsWorse(canary, stable, settings);
  return v.significant ? { ...v, windowMs, stable, canary } : undefined;
}
