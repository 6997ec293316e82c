/**
 * The traffic an analysis needs to reach a verdict. A measurement with fewer than `minSampleSize`
 * canary requests is inconclusive, so at weight w% and interval t the service needs
 * minSampleSize / (t × w) requests per second overall; blue/green's preview sees only requests
 * pinned by header, whatever the user traffic. Below that, the rollout runs out of time
 * (inconclusiveLimit, progressDeadline) and ends per `onDeadline`.
 */
import type { MetricSource } from './metrics.ts';
import type { ResolvedStrategy } from './strategy.ts';

export interface AnalysisTraffic {
  label: string;
  /** Share of user traffic on the new version during this analysis (0 for a preview). */
  weight: number;
  /** Requests per second the service needs overall (or pinned to the preview when weight is 0). */
  requiredRps: number;
}

export interface TrafficNeeds {
  analyses: AnalysisTraffic[];
  /** The most user traffic any analysis needs, req/s (0 when none depends on user traffic). */
  requiredRps: number;
  /** Header-pinned preview requests per second blue/green needs (0 for other strategies). */
  requiredPreviewRps: number;
  /** How long a rollout without enough traffic runs before it ends, at worst. */
  outOfTimeMs: number;
  onDeadline: ResolvedStrategy['analysis']['onDeadline'];
}

/** What each analysis of a strategy needs, from minSampleSize, weights and intervals. */
export function trafficNeeds(strategy: ResolvedStrategy, replicas = 1): TrafficNeeds {
  const a = strategy.analysis;
  const analyses: AnalysisTraffic[] = [];
  const need = (spec: ResolvedStrategy['analysis'], weight: number) =>
    round1(spec.minSampleSize / (spec.interval / 1000) / (weight > 0 ? weight / 100 : 1));
  const outOfTime = (spec: ResolvedStrategy['analysis']) =>
    Math.min((spec.inconclusiveLimit + 1) * spec.interval, spec.progressDeadline);
  let outOfTimeMs = 0;
  if (strategy.strategy === 'bluegreen') {
    analyses.push({ label: 'preview', weight: 0, requiredRps: need(a, 0) });
    outOfTimeMs = outOfTime(a);
  } else if (strategy.strategy === 'rolling') {
    for (let i = 1; i < replicas; i++) {
      const weight = Math.round((100 * i) / replicas);
      analyses.push({ label: `batch ${i}/${replicas}`, weight, requiredRps: need(a, weight) });
    }
    if (replicas > 1) outOfTimeMs = outOfTime(a);
  } else {
    let weight = 0;
    strategy.steps.forEach((s, i) => {
      if (s.kind === 'setWeight') weight = s.weight;
      if (s.kind !== 'analysis') return;
      analyses.push({ label: `step ${i + 1}`, weight, requiredRps: need(s.analysis, weight) });
      // The first analysis that runs out of time ends the rollout.
      outOfTimeMs ||= outOfTime(s.analysis);
    });
  }
  if (strategy.bake > 0) {
    analyses.push({ label: 'bake', weight: 100, requiredRps: need(a, 100) });
    outOfTimeMs ||= strategy.bake;
  }
  const user = analyses.filter((x) => x.weight > 0);
  return {
    analyses,
    requiredRps: user.length ? Math.max(...user.map((x) => x.requiredRps)) : 0,
    requiredPreviewRps: analyses.find((x) => x.weight === 0)?.requiredRps ?? 0,
    outOfTimeMs,
    onDeadline: a.onDeadline,
  };
}

/** How far back `observedRps` looks. */
export const OBSERVED_WINDOW_MS = 60_000;

/**
 * Requests per second the service received over the last minute, over every running version;
 * undefined when the metric source cannot say.
 */
export async function observedRps(
  source: MetricSource,
  service: string,
  versions: readonly string[],
): Promise<number | undefined> {
  try {
    const all = await Promise.all(versions.map((v) => source.query(service, v, OBSERVED_WINDOW_MS)));
    return round1(all.reduce((n, m) => n + m.requests, 0) / (OBSERVED_WINDOW_MS / 1000));
  } catch {
    return undefined;
  }
}

/** A warning when the observed traffic is below what the analyses need; undefined when enough. */
export function trafficWarning(needs: TrafficNeeds, observed: number | undefined): string | undefined {
  if (observed === undefined || needs.requiredRps === 0 || observed >= needs.requiredRps) return undefined;
  const end = needs.onDeadline === 'abort' ? 'roll back' : 'hold for a human';
  return `the analysis needs about ${needs.requiredRps} req/s overall to reach a verdict; the last minute saw ${observed} req/s, so the rollout will be inconclusive and ${end} after about ${Math.round(needs.outOfTimeMs / 1000)}s (exit 8)`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
