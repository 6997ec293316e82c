import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RESTART_POLICY, RestartTracker } from './restart-policy.ts';

describe('RestartTracker', () => {
  it('restarts the first crash at once, then backs off exponentially', () => {
    const t = new RestartTracker();
    const delays = [0, 1, 2, 3].map((i) => t.onCrash(1000 + i, 10, false));
    expect(delays).toEqual([
      { action: 'restart', delayMs: 0 },
      { action: 'restart', delayMs: 100 },
      { action: 'restart', delayMs: 200 },
      { action: 'restart', delayMs: 400 },
    ]);
  });

  it('declares a crash loop at the limit within the window', () => {
    const t = new RestartTracker();
    for (let i = 0; i < 4; i++) expect(t.onCrash(i * 1000, 50, false).action).toBe('restart');
    expect(t.onCrash(4000, 50, false)).toEqual({ action: 'crash-loop', crashes: 5 });
  });

  it('forgets crashes older than the window', () => {
    const t = new RestartTracker();
    for (let i = 0; i < 4; i++) t.onCrash(i, 50, false);
    expect(t.onCrash(DEFAULT_RESTART_POLICY.windowMs + 10, 50, false)).toEqual({
      action: 'restart',
      delayMs: 0,
    });
  });

  it('treats a crash after a healthy run as a first crash (kill -9 of a good instance)', () => {
    const t = new RestartTracker();
    for (let i = 0; i < 4; i++) t.onCrash(i, 50, false);
    expect(t.onCrash(10, DEFAULT_RESTART_POLICY.healthyRunMs, true)).toEqual({
      action: 'restart',
      delayMs: 0,
    });
  });

  it('never waits longer than the maximum backoff and always ends in a loop when crashing fast', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10 }), (limit, gap) => {
        const t = new RestartTracker({ crashLimit: limit, maxBackoffMs: 1000 });
        let last = t.onCrash(0, 1, false);
        for (let i = 1; i < limit; i++) {
          if (last.action === 'restart') expect(last.delayMs).toBeLessThanOrEqual(1000);
          last = t.onCrash(i * gap, 1, false);
        }
        expect(limit === 1 || last.action === 'crash-loop').toBe(true);
      }),
    );
  });
});
