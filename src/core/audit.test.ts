import { describe, expect, it } from 'vitest';
import { redactArgs } from './audit.ts';

describe('redactArgs', () => {
  it('hides values of secret-looking flags in every form', () => {
    expect(
      redactArgs(['secrets', 'set', '--token', 'abc', '--password=hunter2', 'API_KEY=zzz', '--env', 'dev']),
    ).toEqual(['secrets', 'set', '--token', '***', '--password=***', 'API_KEY=***', '--env', 'dev']);
  });
});
