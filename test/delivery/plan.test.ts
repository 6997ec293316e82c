import { describe, expect, it } from 'vitest';
import { planRollout } from '../../src/delivery/plan.ts';
import { resolveStrategy } from '../../src/delivery/strategy.ts';
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

  it('rolling watches each batch for one interval', () => {
    const p = plan('  strategy: rolling', 4);
    expect(p.steps.map((s) => s.weight)).toEqual([25, 50, 75, 100]);
    expect(p.timeToFullPromotionMs).toBe(3 * 2000);
  });
});

describe('conditions in platform.yaml', () => {
  it('reports a bad condition at its file:line with the fix', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadPlatform } = await import('../../src/core/config/load.ts');
    const { prepareStrategy } = await import('../../src/delivery/wiring.ts');
    const { ConfigError } = await import('../../src/core/errors.ts');
    const dir = mkdtempSync(join(tmpdir(), 'cond-'));
    try {
      writeFileSync(
        join(dir, 'platform.yaml'),
        `name: demo
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  api:
    path: ./api
    port: 8100
    delivery:
      steps:
        - setWeight: 10
        - analysis:
            conditions:
              - "p99 < 300ms"
              - "p99 < 1%"
delivery:
  analysis:
    conditions: ["error_rate < 1%", "eror_rate < 2%"]
`,
      );
      const platform = loadPlatform(dir);
      let err: unknown;
      try {
        prepareStrategy(platform, 'api', {});
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as InstanceType<typeof ConfigError>).problems;
      expect(problems).toHaveLength(2);
      expect(problems[0]).toMatchObject({ line: 17, path: 'delivery.analysis.conditions.1' });
      expect(problems[0]?.message).toContain('unknown metric "eror_rate"');
      expect(problems[0]?.fix).toContain('did you mean "error_rate"');
      expect(problems[1]).toMatchObject({
        line: 14,
        path: 'services.api.delivery.steps.1.analysis.conditions.1',
      });
      expect(problems[1]?.message).toContain('cannot compare a duration with a ratio');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
