import { describe, expect, it } from 'vitest';
import {
  canaryErrorsWorse,
  fisherExactGreater,
  logGamma,
  normalCdf,
  twoProportionZTest,
} from '../../src/delivery/stats.ts';

describe('statistics', () => {
  it('normal CDF matches tables', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(2.326348)).toBeCloseTo(0.99, 6);
    expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
    expect(normalCdf(1)).toBeCloseTo(0.8413447, 6);
  });

  it('log-gamma gives log factorials', () => {
    expect(logGamma(1)).toBeCloseTo(0, 10);
    expect(logGamma(6)).toBeCloseTo(Math.log(120), 10);
    expect(logGamma(101)).toBeCloseTo(363.73937555556347, 8);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 10);
  });

  it('two-proportion z-test: 30/100 vs 10/100', () => {
    // pooled p = 0.2, se = sqrt(0.2*0.8*(1/100+1/100)) = 0.0565685, z = 0.2/se = 3.5355
    const r = twoProportionZTest(30, 100, 10, 100);
    expect(r.z).toBeCloseTo(3.5355, 4);
    expect(r.pValue).toBeCloseTo(0.000203, 5);
  });

  it("Fisher's exact test: the lady tasting tea", () => {
    // [[3,1],[1,3]]: P(X >= 3) = (C(4,3)C(4,1) + C(4,4)C(4,0)) / C(8,4) = 17/70
    expect(fisherExactGreater(3, 4, 1, 4).pValue).toBeCloseTo(17 / 70, 10);
    // all four failures in the 20-request canary out of 200: C(20,4)/C(200,4)
    expect(fisherExactGreater(4, 20, 0, 180).pValue).toBeCloseTo(4845 / 64684950, 12);
  });

  it('flags a canary failing 20% against a healthy stable within a second of traffic', () => {
    const v = canaryErrorsWorse({ requests: 20, errors: 4 }, { requests: 180, errors: 0 });
    expect(v.test).toBe('fisher');
    expect(v.significant).toBe(true);
    const big = canaryErrorsWorse({ requests: 400, errors: 80 }, { requests: 3600, errors: 4 });
    expect(big.test).toBe('z');
    expect(big.significant).toBe(true);
  });

  it('does not flag noise, equal rates or too few errors', () => {
    expect(canaryErrorsWorse({ requests: 100, errors: 2 }, { requests: 900, errors: 9 }).significant).toBe(
      false,
    );
    expect(canaryErrorsWorse({ requests: 100, errors: 2 }, { requests: 900, errors: 0 }).significant).toBe(
      false,
    );
    expect(canaryErrorsWorse({ requests: 100, errors: 5 }, { requests: 900, errors: 45 }).significant).toBe(
      false,
    );
    expect(canaryErrorsWorse({ requests: 0, errors: 0 }, { requests: 900, errors: 0 }).significant).toBe(
      false,
    );
    expect(canaryErrorsWorse({ requests: 200, errors: 6 }, { requests: 1800, errors: 40 }).significant).toBe(
      false,
    );
  });
});

/** mulberry32: a tiny seeded PRNG so the simulation gives the same numbers on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The early abort as the engine runs it: 48 looks (12 s at one per 250 ms) over cumulative counts,
 * 200 req/s with 10% on the canary. Returns the share of rollouts aborted and the looks it took.
 */
function simulate(stableRate: number, canaryRate: number, alpha: number, runs = 400) {
  const random = prng(42);
  const draw = (n: number, p: number) => {
    let x = 0;
    for (let i = 0; i < n; i++) if (random() < p) x++;
    return x;
  };
  let aborted = 0;
  const looks: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c = { requests: 0, errors: 0 };
    const s = { requests: 0, errors: 0 };
    for (let look = 1; look <= 48; look++) {
      c.requests += 5;
      c.errors += draw(5, canaryRate);
      s.requests += 45;
      s.errors += draw(45, stableRate);
      if (canaryErrorsWorse(c, s, { alpha }).significant) {
        aborted++;
        looks.push(look);
        break;
      }
    }
  }
  looks.sort((a, b) => a - b);
  return { abortedShare: aborted / runs, medianLooks: looks[Math.floor(looks.length / 2)] ?? Number.NaN };
}

describe('early abort under repeated looks (seeded simulation)', () => {
  it('rarely aborts a release exactly as good as stable, even with a 5% baseline error rate', () => {
    expect(simulate(0.05, 0.05, 0.001).abortedShare).toBeLessThan(0.025);
    expect(simulate(0.01, 0.01, 0.001).abortedShare).toBeLessThan(0.015);
    // the reason for the per-look alpha: 0.01 per look aborts good releases several times as often
    expect(simulate(0.05, 0.05, 0.01).abortedShare).toBeGreaterThan(simulate(0.05, 0.05, 0.001).abortedShare);
  });

  it('always catches a release failing 20% more, within a few looks', () => {
    const bad = simulate(0.01, 0.21, 0.001);
    expect(bad.abortedShare).toBe(1);
    expect(bad.medianLooks).toBeLessThanOrEqual(8);
  });
});
