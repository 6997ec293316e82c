import { describe, expect, it } from 'vitest';
import { analyticsService } from '../../analytics/src/main.ts';
import { authService } from '../../auth/src/service.ts';
import { contentService } from '../../content/src/service.ts';
import { parseGatewayEnv } from '../../gateway/src/env.ts';
import { parseConfig } from '../../lib/config.ts';
import { runtimeEnvSchema, serviceUrlVariable, withoutEmpty } from '../runtime-env.ts';

describe('runtime environment contract', () => {
  it('an empty variable is an unset one for every service (analytics took "" for 0)', () => {
    const analytics = parseConfig(
      'analytics',
      { PORT: '0', ANALYTICS_PROJECT_DELAY_MS: '' },
      analyticsService().env,
    );
    expect(analytics.extra.ANALYTICS_PROJECT_DELAY_MS).toBe(500);
    const auth = parseConfig(
      'auth',
      { PORT: '0', AUTH_ISSUER: '', AUTH_KEY_ENCRYPTION_KEY: '' },
      authService.env,
    );
    expect(auth.extra.AUTH_ISSUER).toBe('platformctl-auth');
    expect(auth.extra.AUTH_KEY_ENCRYPTION_KEY).toBeUndefined();
    const content = parseConfig('content', { PORT: '0', CONTENT_MAX_DIMENSION: '' }, contentService.env);
    expect(content.extra.CONTENT_MAX_DIMENSION).toBe(4096);
    const gateway = parseGatewayEnv({
      PORT: '0',
      RATE_LIMIT_RPS: '',
      GATEWAY_CONFIG: '',
      LOG_LEVEL: '',
      HOST: '',
    });
    expect(gateway).toMatchObject({ host: '127.0.0.1', logLevel: 'info' });
    expect(gateway.extra.RATE_LIMIT_RPS).toBe(0);
    expect(gateway.extra.GATEWAY_CONFIG).toBeUndefined();
  });

  it('drops only empty values', () => {
    expect(withoutEmpty({ A: '', B: '0', C: undefined, D: ' ' })).toEqual({ B: '0', D: ' ' });
  });

  it('names the variable that points at another service', () => {
    expect(serviceUrlVariable('content')).toBe('CONTENT_URL');
    expect(serviceUrlVariable('my-api')).toBe('MY_API_URL');
    // The URLs of the built-in services are part of the contract the services parse.
    for (const s of ['auth', 'content', 'analytics'])
      expect(Object.keys(runtimeEnvSchema.shape)).toContain(serviceUrlVariable(s));
  });
});
