/**
 * `canary plan`: what a rollout will take before it starts — the time to full promotion when every
 * measurement passes, the longest it can take within the configured limits, the worst-case time
 * from the first user request on the new version to a rollback decision for a consistently bad
 * release, with the traffic share exposed meanwhile, and the traffic the analyses need to reach a
 * verdict at all (see traffic-needs.ts).
 */
import type { ResolvedStep, ResolvedStrategy } from './strategy.ts';
import { type TrafficNeeds, trafficNeeds } from './traffic-needs.ts';

export interface PlanStep {
  index: number;
  description: string;
  /** Weight on the new version while this step runs. */
  weight: number;
  bestMs: number;
  /** Longest within the limits (all tolerated failures and inconclusive measurements). */
  worstMs: number;
  waitsForHuman: boolean;
}

export interface RolloutPlan {
  strategy: ResolvedStrategy['strategy'];
  steps: PlanStep[];
  /** Every measurement passes at its first try (deploy time excluded). */
  timeToFullPromotionMs: number;
  /** All tolerated failed and inconclusive measurements happen. */
  worstCaseToPromotionMs: number;
  /** A step pauses until someone runs `canary promote`. */
  requiresHuman: boolean;
  detection: {
    /** From the first user request on the new version to the rollback decision by conditions. */
    worstCaseMs: number;
    /** Highest user traffic share on the new version before that decision. */
    exposedWeight: number;
    /** Sum of weight × time up to the decision, in %·s: bounds the share of affected requests. */
    exposurePercentSeconds: number;
    /** Statistical early abort (z / Fisher) checks on every tick once enough canary errors exist. */
    earlyAbortTickMs: number;
    /** Whether the first analysis happens before any user traffic (blue/green preview). */
    beforeUserTraffic: boolean;
    /** Why no analysis can see a bad release before it takes all traffic, when none can. */
    blind?: string;
  };
  /** The traffic every analysis needs for a verdict, and what happens without it. */
  traffic: TrafficNeeds;
}

export function planRollout(
  strategy: ResolvedStrategy,
  opts: { replicas?: number; tickMs?: number } = {},
): RolloutPlan {
  return { ...planSteps(strategy, opts), traffic: trafficNeeds(strategy, opts.replicas ?? 1) };
}

function planSteps(
  strategy: ResolvedStrategy,
  opts: { replicas?: number; tickMs?: number },
): Omit<RolloutPlan, 'traffic'> {
  const tickMs = opts.tickMs ?? 250;
  const steps: PlanStep[] = [];
  if (strategy.strategy === 'bluegreen') {
    const a = strategy.analysis;
    steps.push(analysisStep(0, 'preview analysis (header-pinned traffic only)', 0, a));
    steps.push({
      index: 1,
      description: strategy.blueGreen.autoPromote
        ? 'switch 100% to green'
        : 'wait for promote, then switch 100%',
      weight: 100,
      bestMs: 0,
      worstMs: 0,
      waitsForHuman: !strategy.blueGreen.autoPromote,
    });
    steps.push({
      index: 2,
      description: `keep blue for ${strategy.blueGreen.scaleDownDelay / 1000}s (instant rollback), then stop it`,
      weight: 100,
      bestMs: strategy.blueGreen.scaleDownDelay,
      worstMs: strategy.blueGreen.scaleDownDelay,
      waitsForHuman: false,
    });
    steps.push(...bakeSteps(strategy, steps.length));
    const detect = (a.failureLimit + 1) * a.interval;
    return summarize(strategy, steps, {
      worstCaseMs: detect,
      exposedWeight: 0,
      exposurePercentSeconds: 0,
      earlyAbortTickMs: tickMs,
      beforeUserTraffic: true,
    });
  }
  if (strategy.strategy === 'rolling') {
    const n = opts.replicas ?? 1;
    const a = strategy.analysis;
    for (let i = 1; i <= n; i++) {
      const weight = Math.round((100 * i) / n);
      steps.push({
        index: steps.length,
        description: `replace instance ${i}/${n} (${weight}% on the new version)`,
        weight,
        bestMs: 0,
        worstMs: 0,
        waitsForHuman: false,
      });
      if (i < n) steps.push(analysisStep(steps.length, `analysis of batch ${i}/${n}`, weight, a));
    }
    steps.push(...bakeSteps(strategy, steps.length));
    const first = steps[0] as PlanStep;
    if (n > 1) {
      const ms = (a.failureLimit + 1) * a.interval;
      return summarize(strategy, steps, {
        worstCaseMs: ms,
        exposedWeight: first.weight,
        exposurePercentSeconds: (first.weight * ms) / 1000,
        earlyAbortTickMs: tickMs,
        beforeUserTraffic: false,
      });
    }
    return summarize(
      strategy,
      steps,
      bakeDetection(
        strategy,
        tickMs,
        'one replica: the first batch is the whole service, so no analysis runs before 100%',
      ),
    );
  }
  let weight = 0;
  strategy.steps.forEach((s, i) => {
    if (s.kind === 'setWeight') weight = s.weight;
    steps.push(describeStep(i, s, weight));
  });
  steps.push(...bakeSteps(strategy, steps.length));
  // Detection: walk from the first step with traffic to the end of the first analysis that sees it.
  let elapsed = 0;
  let exposure = 0;
  let maxWeight = 0;
  let detected = false;
  let current = 0;
  for (const [i, s] of strategy.steps.entries()) {
    if (s.kind === 'setWeight') {
      current = s.weight;
      maxWeight = Math.max(maxWeight, current);
      continue;
    }
    if (current === 0) continue;
    const step = steps[i] as PlanStep;
    if (s.kind === 'analysis') {
      const ms = (s.analysis.failureLimit + 1) * s.analysis.interval;
      elapsed += ms;
      exposure += (current * ms) / 1000;
      detected = true;
      break;
    }
    if (s.kind === 'pause') {
      elapsed += step.bestMs;
      exposure += (current * step.bestMs) / 1000;
    }
  }
  if (!detected) {
    return summarize(
      strategy,
      steps,
      bakeDetection(strategy, tickMs, 'no analysis step runs while the new version has part of the traffic'),
    );
  }
  return summarize(strategy, steps, {
    worstCaseMs: detected ? elapsed : Number.POSITIVE_INFINITY,
    exposedWeight: maxWeight,
    exposurePercentSeconds: detected ? exposure : Number.POSITIVE_INFINITY,
    earlyAbortTickMs: tickMs,
    beforeUserTraffic: false,
  });
}

/** The bake after 100%, as a plan step (none without a bake). */
function bakeSteps(strategy: ResolvedStrategy, index: number): PlanStep[] {
  if (strategy.bake <= 0) return [];
  return [
    {
      index,
      description: `bake: analyse ${strategy.bake / 1000}s at 100%, old version kept for rollback`,
      weight: 100,
      bestMs: strategy.bake,
      worstMs: strategy.bake,
      waitsForHuman: false,
    },
  ];
}

/** Detection when only the bake (if any) can see a bad release: at 100% of traffic. */
function bakeDetection(strategy: ResolvedStrategy, tickMs: number, why: string): RolloutPlan['detection'] {
  const a = strategy.analysis;
  if (strategy.bake > 0) {
    const ms = Math.min((a.failureLimit + 1) * a.interval, strategy.bake);
    return {
      worstCaseMs: ms,
      exposedWeight: 100,
      exposurePercentSeconds: (100 * ms) / 1000,
      earlyAbortTickMs: tickMs,
      beforeUserTraffic: false,
      blind: `${why}; only the bake can catch a bad release, at 100%`,
    };
  }
  return {
    worstCaseMs: Number.POSITIVE_INFINITY,
    exposedWeight: 100,
    exposurePercentSeconds: Number.POSITIVE_INFINITY,
    earlyAbortTickMs: tickMs,
    beforeUserTraffic: false,
    blind: `${why}; add more replicas, analysis steps or a bake`,
  };
}

function analysisStep(
  index: number,
  label: string,
  weight: number,
  a: ResolvedStrategy['analysis'],
): PlanStep {
  return {
    index,
    description: `${label}: ${a.count} × ${a.interval / 1000}s, ${a.conditions.join(', ')}`,
    weight,
    bestMs: a.count * a.interval,
    worstMs: Math.min((a.count + a.failureLimit + a.inconclusiveLimit) * a.interval, a.progressDeadline),
    waitsForHuman: false,
  };
}

function describeStep(index: number, s: ResolvedStep, weight: number): PlanStep {
  switch (s.kind) {
    case 'setWeight':
      return {
        index,
        description: `set weight ${s.weight}%`,
        weight,
        bestMs: 0,
        worstMs: 0,
        waitsForHuman: false,
      };
    case 'pause':
      return {
        index,
        description: `pause ${s.durationMs / 1000}s`,
        weight,
        bestMs: s.durationMs,
        worstMs: s.durationMs,
        waitsForHuman: false,
      };
    case 'pauseUntilPromoted':
      return {
        index,
        description: 'pause until promoted',
        weight,
        bestMs: 0,
        worstMs: 0,
        waitsForHuman: true,
      };
    case 'analysis':
      return analysisStep(index, 'analysis', weight, s.analysis);
  }
}

function summarize(
  strategy: ResolvedStrategy,
  steps: PlanStep[],
  detection: RolloutPlan['detection'],
): Omit<RolloutPlan, 'traffic'> {
  return {
    strategy: strategy.strategy,
    steps,
    timeToFullPromotionMs: steps.reduce((t, s) => t + s.bestMs, 0),
    worstCaseToPromotionMs: steps.reduce((t, s) => t + s.worstMs, 0),
    requiresHuman: steps.some((s) => s.waitsForHuman),
    detection,
  };
}
