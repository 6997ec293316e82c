import { describe, expect, it } from 'vitest';
import { validatedCacheKey } from './validated-cache.ts';

describe('validatedCacheKey', () => {
  const text = 'name: acme\n';
  const key = validatedCacheKey('0.1.0+a', text, {});

  it('changes with the file, the build and the config overrides', () => {
    expect(validatedCacheKey('0.1.0+a', `${text} `, {})).not.toBe(key);
    expect(validatedCacheKey('0.1.0+b', text, {})).not.toBe(key);
    expect(validatedCacheKey('0.1.0+a', text, { PLATFORMCTL_SERVICES__API__PORT: '1' })).not.toBe(key);
    expect(validatedCacheKey('0.1.0+a', text, { PLATFORMCTL_SERVICES__API__PORT: '2' })).not.toBe(
      validatedCacheKey('0.1.0+a', text, { PLATFORMCTL_SERVICES__API__PORT: '1' }),
    );
  });

  it('ignores variables that are not config overrides, and the order of overrides', () => {
    expect(validatedCacheKey('0.1.0+a', text, { PLATFORMCTL_MASTER_KEY: 'x', HOME: '/root' })).toBe(key);
    const a = { PLATFORMCTL_A__B: '1', PLATFORMCTL_C__D: '2' };
    const b = { PLATFORMCTL_C__D: '2', PLATFORMCTL_A__B: '1' };
    expect(validatedCacheKey('0.1.0+a', text, a)).toBe(validatedCacheKey('0.1.0+a', text, b));
  });

  it('does not confuse a value boundary with a key boundary', () => {
    expect(validatedCacheKey('0.1.0+a', text, { PLATFORMCTL_A__B: '1\0PLATFORMCTL_C__D=2' })).not.toBe(
      validatedCacheKey('0.1.0+a', text, { PLATFORMCTL_A__B: '1', PLATFORMCTL_C__D: '2' }),
    );
  });
});
