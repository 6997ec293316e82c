/**
 * The standby settings a user sets in the environment (PLATFORMCTL_STANDBY,
 * PLATFORMCTL_STANDBY_DELAY_MS), read in one place and refused when malformed. `up` reads them
 * before it starts a supervisor daemon: the daemon has no terminal, so a typo would otherwise
 * silently mean the default.
 */
import { PlatformError } from '../../core/errors.ts';

export interface StandbySettings {
  /** Keep standbys (standbys.ts); on unless PLATFORMCTL_STANDBY=off. */
  enabled: boolean;
  /** How long an instance is ready before its standby starts loading (not amid a start-up wave). */
  delayMs: number;
}

const DEFAULT_DELAY_MS = 2000;

/** An empty value counts as unset (`PLATFORMCTL_STANDBY= platformctl up`). */
export function standbySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): StandbySettings {
  const mode = env.PLATFORMCTL_STANDBY || undefined;
  if (mode !== undefined && mode !== 'on' && mode !== 'off') {
    throw new PlatformError('ENV_INVALID', `PLATFORMCTL_STANDBY is "${mode}"; expected on or off`, {
      hint: 'unset it for the default (on), or set PLATFORMCTL_STANDBY=off to run without standbys',
    });
  }
  const delay = env.PLATFORMCTL_STANDBY_DELAY_MS || undefined;
  if (delay !== undefined && !/^\d{1,7}$/.test(delay)) {
    throw new PlatformError(
      'ENV_INVALID',
      `PLATFORMCTL_STANDBY_DELAY_MS is "${delay}"; expected a whole number of milliseconds`,
      {
        hint: `unset it for the default (${DEFAULT_DELAY_MS}), or set e.g. PLATFORMCTL_STANDBY_DELAY_MS=500`,
      },
    );
  }
  return { enabled: mode !== 'off', delayMs: delay === undefined ? DEFAULT_DELAY_MS : Number(delay) };
}
