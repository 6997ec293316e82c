import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apportion, weightTotal, withoutVersion, withVersionAt } from '../traffic-weights.ts';

const total = (w: Record<string, number>) => Object.values(w).reduce((s, x) => s + x, 0);

describe('traffic weights', () => {
  it('apportions whole percentages that total exactly 100, remainder to the largest fractions', () => {
    expect(apportion({ a: 1, b: 2 })).toEqual({ a: 33, b: 67 });
    // Equal fractions: the earlier (stable) version gets the extra point.
    expect(apportion({ a: 1, b: 1, c: 1 })).toEqual({ a: 34, b: 33, c: 33 });
    expect(apportion({ a: 33.5, b: 33.5, c: 33 })).toEqual({ a: 34, b: 33, c: 33 });
    expect(apportion({ a: 0, b: 0 })).toEqual({});
    expect(apportion({ a: 0, b: 5 })).toEqual({ a: 0, b: 100 });
  });

  it('a canary beside three versions still totals 100 (per-share rounding gave 101)', () => {
    // The supervisor rounded each share: 33/33/34 of 90 -> 30 + 30 + 31 + 10 = 101.
    const w = withVersionAt({ a: 33, b: 33, c: 34 }, 'd', 10);
    expect(w).toEqual({ a: 30, b: 30, c: 30, d: 10 });
    expect(total(w)).toBe(100);
  });

  it('the remainder goes to the largest fraction, not to the last or the biggest version', () => {
    // Exact shares 33.5 / 33.5 / 33: the Kubernetes provider rounded the first two up and gave the
    // last what was left (34 / 34 / 32).
    expect(withoutVersion({ a: 67, b: 67, c: 66, gone: 100 }, 'gone', 'a')).toEqual({ a: 34, b: 33, c: 33 });
    // Exact shares 40.1 / 30.1 / 29.8: the supervisor rounded down and gave the missing point to the
    // biggest version (41 / 30 / 29).
    expect(withoutVersion({ a: 40.1, b: 30.1, c: 29.8, gone: 0 }, 'gone', 'a')).toEqual({
      a: 40,
      b: 30,
      c: 30,
    });
  });

  it('a new version beside a stable one without weights starts dark; alone it takes everything', () => {
    expect(withVersionAt({ v1: 0 }, 'v2', 0)).toEqual({ v1: 100, v2: 0 });
    expect(withVersionAt({}, 'v1', 0)).toEqual({ v1: 100 });
    expect(withVersionAt({ v1: 100 }, 'v1', 30)).toEqual({ v1: 100 });
  });

  it('a retired version hands its share to the survivors, or everything to the fallback', () => {
    expect(withoutVersion({ v1: 50, v2: 50 }, 'v2', 'v1')).toEqual({ v1: 100 });
    expect(withoutVersion({ v1: 0, v2: 100, v3: 0 }, 'v2', 'v1')).toEqual({ v1: 100, v3: 0 });
    expect(withoutVersion({ v2: 100 }, 'v2', undefined)).toEqual({});
  });

  it('every split totals 100 whatever the inputs', () => {
    const weights = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 4 }),
      fc.double({ min: 0, max: 100, noNaN: true }),
      {
        minKeys: 1,
        maxKeys: 8,
      },
    );
    fc.assert(
      fc.property(weights, fc.integer({ min: 0, max: 100 }), (w, pct) => {
        const out = apportion(w);
        if (weightTotal(w) > 0) expect(total(out)).toBe(100);
        for (const v of Object.values(out)) expect(Number.isInteger(v)).toBe(true);
        expect(total(withVersionAt(w, '__new', pct))).toBe(100);
        const [first] = Object.keys(w);
        if (first !== undefined && Object.keys(w).length > 1)
          expect(total(withoutVersion(w, first, Object.keys(w)[1]))).toBe(100);
      }),
    );
  });
});
