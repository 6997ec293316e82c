import { describe, expect, it } from 'vitest';
import { standbySettingsFromEnv } from './standby-settings.ts';

describe('standby settings from the environment', () => {
  it('defaults to on after 2 s, an empty value counting as unset', () => {
    expect(standbySettingsFromEnv({})).toEqual({ enabled: true, delayMs: 2000 });
    expect(standbySettingsFromEnv({ PLATFORMCTL_STANDBY: '', PLATFORMCTL_STANDBY_DELAY_MS: '' })).toEqual({
      enabled: true,
      delayMs: 2000,
    });
  });

  it('takes on, off and a whole number of milliseconds', () => {
    expect(standbySettingsFromEnv({ PLATFORMCTL_STANDBY: 'off' }).enabled).toBe(false);
    expect(standbySettingsFromEnv({ PLATFORMCTL_STANDBY: 'on' }).enabled).toBe(true);
    expect(standbySettingsFromEnv({ PLATFORMCTL_STANDBY_DELAY_MS: '0' }).delayMs).toBe(0);
    expect(standbySettingsFromEnv({ PLATFORMCTL_STANDBY_DELAY_MS: '1500' }).delayMs).toBe(1500);
  });

  it('refuses anything else, naming the variable and the value, as a usage error', () => {
    for (const env of [
      { PLATFORMCTL_STANDBY: 'false' },
      { PLATFORMCTL_STANDBY: 'OFF' },
      { PLATFORMCTL_STANDBY_DELAY_MS: '2s' },
      { PLATFORMCTL_STANDBY_DELAY_MS: '-1' },
      { PLATFORMCTL_STANDBY_DELAY_MS: '1.5' },
    ]) {
      const [name, value] = Object.entries(env)[0]!;
      expect(() => standbySettingsFromEnv(env)).toThrow(
        expect.objectContaining({
          code: 'ENV_INVALID',
          exitCode: 2,
          message: expect.stringContaining(`${name} is "${value}"`),
        }),
      );
    }
  });
});
