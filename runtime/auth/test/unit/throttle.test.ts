import { describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE, LoginThrottle } from '../../src/throttle.ts';

describe('LoginThrottle', () => {
  const rule = { freeFailures: 3, baseLockMs: 1000, maxLockMs: 8000 };

  it('allows free failures, then locks the pair with exponential backoff capped at the maximum', () => {
    let now = 0;
    const t = new LoginThrottle({ account: rule, ip: { ...rule, freeFailures: 100 } }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(t.check('a@x', '1.1.1.1').allowed).toBe(true);
      t.recordFailure('a@x', '1.1.1.1');
    }
    expect(t.check('a@x', '1.1.1.1').allowed).toBe(true);
    t.recordFailure('a@x', '1.1.1.1'); // 4th: 1s
    expect(t.check('a@x', '1.1.1.1')).toEqual({ allowed: false, retryAfterMs: 1000, lockedBy: 'account' });
    now += 1000;
    t.recordFailure('a@x', '1.1.1.1'); // 5th: 2s
    expect(t.check('a@x', '1.1.1.1').retryAfterMs).toBe(2000);
    for (let i = 0; i < 10; i++) t.recordFailure('a@x', '1.1.1.1');
    expect(t.check('a@x', '1.1.1.1').retryAfterMs).toBe(8000);
    // The owner, from another address, is not locked out by someone else's guesses.
    expect(t.check('a@x', '9.9.9.9')).toEqual({ allowed: true, retryAfterMs: 0 });
  });

  it('lets one attempt through when the lock runs out, and says exactly how long to wait', () => {
    let now = 0;
    const t = new LoginThrottle({ account: rule, ip: { ...rule, freeFailures: 100 } }, () => now);
    for (let i = 0; i < 4; i++) t.recordFailure('a@x', '1.1.1.1'); // locked 1 s
    now += 400;
    expect(t.acquire('a@x', '1.1.1.1')).toEqual({ allowed: false, retryAfterMs: 600, lockedBy: 'account' });
    now += 600;
    expect(t.acquire('a@x', '1.1.1.1').allowed).toBe(true);
    // While that attempt is verified, a second one waits.
    expect(t.acquire('a@x', '1.1.1.1').allowed).toBe(false);
    t.release('a@x', '1.1.1.1', false); // 5th failure: 2 s
    expect(t.acquire('a@x', '1.1.1.1').retryAfterMs).toBe(2000);
    now += 2000;
    expect(t.acquire('a@x', '1.1.1.1').allowed).toBe(true);
    t.release('a@x', '1.1.1.1', true);
    expect(t.check('a@x', '1.1.1.1').allowed).toBe(true);
  });

  it('caps the default lock at minutes, not the hour it used to reach', () => {
    let now = 0;
    const t = new LoginThrottle({}, () => now);
    for (let i = 0; i < 40; i++) {
      t.recordFailure('victim@x', '6.6.6.6');
      now += 10;
    }
    const v = t.check('victim@x', '6.6.6.6');
    expect(v.allowed).toBe(false);
    expect(v.retryAfterMs).toBeLessThanOrEqual(DEFAULT_THROTTLE.account.maxLockMs);
    now += DEFAULT_THROTTLE.account.maxLockMs;
    expect(t.acquire('victim@x', '6.6.6.6').allowed).toBe(true);
  });

  it('locks an IP spraying many accounts, and success does not unlock the IP', () => {
    const now = 0;
    const t = new LoginThrottle({ account: { ...rule, freeFailures: 100 }, ip: rule }, () => now);
    for (let i = 0; i < 4; i++) t.recordFailure(`user${i}@x`, '6.6.6.6');
    const v = t.check('new@x', '6.6.6.6');
    expect(v.allowed).toBe(false);
    expect(v.lockedBy).toBe('ip');
    t.recordSuccess('new@x', '6.6.6.6');
    expect(t.check('new@x', '6.6.6.6').allowed).toBe(false);
    expect(t.check('new@x', '7.7.7.7').allowed).toBe(true);
  });

  it('success clears the pair; entries are forgotten and bounded', () => {
    let now = 0;
    const t = new LoginThrottle(
      { account: rule, ip: { ...rule, freeFailures: 1e6 }, forgetAfterMs: 10_000, maxEntries: 10 },
      () => now,
    );
    for (let i = 0; i < 5; i++) t.recordFailure('a@x', 'ip');
    expect(t.check('a@x', 'ip').allowed).toBe(false);
    t.recordSuccess('a@x', 'ip');
    expect(t.check('a@x', 'ip').allowed).toBe(true);
    for (let i = 0; i < 50; i++) t.recordFailure(`u${i}`, 'ip');
    expect(t.size).toBeLessThanOrEqual(10);
    now += 1_000_000;
    expect(t.check('u49', 'ip').allowed).toBe(true);
  });

  it('counts attempts in flight, so a parallel burst cannot exceed the free failures', () => {
    const t = new LoginThrottle({ account: rule, ip: { ...rule, freeFailures: 1000 } }, () => 0);
    const admitted = Array.from({ length: 10 }, () => t.acquire('burst@x', '1.2.3.4')).filter(
      (v) => v.allowed,
    );
    expect(admitted).toHaveLength(3);
    for (let i = 0; i < 3; i++) t.release('burst@x', '1.2.3.4', false);
    expect(t.acquire('burst@x', '1.2.3.4').allowed).toBe(true);
    t.release('burst@x', '1.2.3.4', false);
    expect(t.check('burst@x', '1.2.3.4').allowed).toBe(false);
    // Successes release their slot and clear the pair; the IP entry is dropped when clean.
    const ok = new LoginThrottle({ account: rule, ip: rule }, () => 0);
    for (let i = 0; i < 50; i++) {
      expect(ok.acquire('user@x', '5.5.5.5').allowed).toBe(true);
      ok.release('user@x', '5.5.5.5', true);
    }
    expect(ok.size).toBe(0);
  });
});
