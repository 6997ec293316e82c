import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertSecretName, envForService, injectionTarget } from '../../src/secrets/names.ts';

describe('secret names', () => {
  it('accepts the convention and rejects path tricks', () => {
    for (const ok of ['auth.JWT_KEY', '*.SENTRY_DSN', 'content-api.DB_PASSWORD', 'plain_name'])
      expect(() => assertSecretName(ok)).not.toThrow();
    for (const bad of ['', '../x', 'a/b', 'a..b', '.a', 'a.', '**.X', 'a.*', 'x y', `a.${'B'.repeat(200)}`])
      expect(() => assertSecretName(bad), bad).toThrow(/invalid secret name/);
  });

  it('never lets an accepted name escape a path (fuzzed)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (name) => {
        let accepted = true;
        try {
          assertSecretName(name);
        } catch {
          accepted = false;
        }
        if (accepted) expect(name.includes('/') || name.includes('..') || name.includes('\\')).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('maps names to env vars', () => {
    expect(injectionTarget('auth.JWT_KEY')).toEqual({ scope: 'auth', variable: 'JWT_KEY' });
    expect(injectionTarget('a.b.C')).toBeUndefined();
    expect(injectionTarget('auth.not-a-var')).toBeUndefined();
    const values = new Map([
      ['*.A', 'shared'],
      ['auth.A', 'own'],
      ['content.B', 'other'],
    ]);
    expect(envForService('auth', values)).toEqual({ A: 'own' });
    expect(envForService('content', values)).toEqual({ A: 'shared', B: 'other' });
  });
});
