import { describe, expect, it } from 'vitest';
import { planRollout } from '../../src/delivery/plan.ts';
import { resolveStrategy } from '../../src/delivery/strategy.ts';
import { trafficWarning } from '../../src/delivery/traffic-needs.ts';
import { parseConfigText } from './config.ts';

const plan = (delivery: string, replicas?: number) =>
  planRollout(resolveStrategy(parseConfigText(delivery), 'api').strategy, replicas ? { replicas } : {});

describe('canary plan', () => {
  it('default canary: 2 analyses of 3 × 2s; a bad release is caught 2s after its first request at 10%', () => {
    const p = plan('  strategy: canary');
    expect(p.timeToFullPromotionMs).toBe(12_000);
    // each analysis: (count 3 + failureLimit 0 + inconclusiveLimit 3) × 2s
    expect(p.worstCaseToPromotionMs).toBe(24_000);
    expect(p.detection).toMatchObject({ worstCaseMs: 2000, exposedWeight: 10, exposurePercentSeconds: 20 });
    expect(p.requiresHuman).toBe(false);
  });

  it('pauses before the first analysis add to the detection time and exposure', () => {
    const p = plan(`
  analysis: { interval: 1s, count: 5, failureLimit: 1 }
  steps:
    - setWeight: 5
    - pause: 30s
    - analysis: { interval: 10s }
    - setWeight: 25
    - pause: { untilPromoted: true }
    - setWeight: 100`);
    expect(p.timeToFullPromotionMs).toBe(30_000 + 5 * 10_000);
    expect(p.detection.worstCaseMs).toBe(30_000 + 2 * 10_000);
    expect(p.detection.exposurePercentSeconds).toBe(5 * 50);
    expect(p.requiresHuman).toBe(true);
  });

  it('a canary with no analysis after traffic never detects', () => {
    const p = plan(`
  steps:
    - setWeight: 50
    - pause: 10s
    - setWeight: 100`);
    expect(p.detection.worstCaseMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('blue/green analyses before user traffic and keeps blue for the delay', () => {
    const p = plan(`
  strategy: bluegreen
  analysis: { interval: 1s, count: 4 }
  blueGreen: { scaleDownDelay: 20s, autoPromote: false }`);
    expect(p.timeToFullPromotionMs).toBe(24_000);
    expect(p.detection).toMatchObject({ worstCaseMs: 1000, exposedWeight: 0, beforeUserTraffic: true });
    expect(p.requiresHuman).toBe(true);
  });

  it('rolling analyses between batches like canary steps; detection is one interval after the first batch', () => {
    const p = plan('  strategy: rolling', 4);
    expect(p.steps.map((s) => s.weight)).toEqual([25, 25, 50, 50, 75, 75, 100]);
    expect(p.steps[1]?.description).toContain('analysis of batch 1/4');
    expect(p.timeToFullPromotionMs).toBe(3 * 3 * 2000);
    const two = plan('  strategy: rolling', 2);
    expect(two.detection).toMatchObject({ worstCaseMs: 2000, exposedWeight: 50 });
    expect(two.detection.blind).toBeUndefined();
  });

  it('rolling with one replica, or a canary without analysis, is blind unless it bakes', () => {
    const one = plan('  strategy: rolling', 1);
    expect(one.detection.worstCaseMs).toBe(Number.POSITIVE_INFINITY);
    expect(one.detection.blind).toContain('no analysis runs before 100%');
    const baked = plan('  strategy: rolling\n  bake: 30s', 1);
    expect(baked.detection).toMatchObject({ worstCaseMs: 2000, exposedWeight: 100 });
    expect(baked.steps.at(-1)).toMatchObject({ weight: 100, bestMs: 30_000 });
    expect(baked.timeToFullPromotionMs).toBe(30_000);
  });

  it('computes the traffic the analyses need from minSampleSize, weights and intervals', () => {
    // Default canary: 20 requests per 2 s interval at 10% is 100 req/s overall.
    const p = plan('  strategy: canary');
    expect(p.traffic.analyses.map((a) => [a.label, a.weight, a.requiredRps])).toEqual([
      ['step 2', 10, 100],
      ['step 4', 50, 20],
    ]);
    expect(p.traffic).toMatchObject({
      requiredRps: 100,
      requiredPreviewRps: 0,
      outOfTimeMs: 8000,
      onDeadline: 'abort',
    });
    expect(trafficWarning(p.traffic, 3)).toMatch(
      /needs about 100 req\/s overall.*saw 3 req\/s.*roll back after about 8s \(exit 8\)/,
    );
    expect(trafficWarning(p.traffic, 150)).toBeUndefined();
    const bg = plan('  strategy: bluegreen');
    expect(bg.traffic).toMatchObject({ requiredRps: 0, requiredPreviewRps: 10 });
    const deadline = plan('  analysis: { inconclusiveLimit: 100, progressDeadline: 30s, onDeadline: pause }');
    expect(deadline.traffic).toMatchObject({ outOfTimeMs: 30_000, onDeadline: 'pause' });
    expect(deadline.worstCaseToPromotionMs).toBe(60_000);
  });
});
