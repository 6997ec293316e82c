import { describe, expect, it } from 'vitest';
import { analyticsService } from '../../../runtime/analytics/src/main.ts';
import { authService } from '../../../runtime/auth/src/service.ts';
import { contentEnv } from '../../../runtime/content/src/service.ts';
import { GATEWAY_UP_DEFAULTS, routeBodyLimit } from './edge-defaults.ts';

describe('gateway route body limits', () => {
  it('match the limits the built-in services enforce themselves', () => {
    expect(routeBodyLimit({ path: 'builtin:auth', env: {} })).toBe(authService.bodyLimit);
    expect(routeBodyLimit({ path: 'builtin:analytics', env: {} })).toBe(analyticsService().bodyLimit);
    expect(routeBodyLimit({ path: 'builtin:content', env: {} })).toBe(contentEnv.parse({}).MAX_UPLOAD_BYTES);
  });

  it('follow a service env override and leave other services to the gateway default', () => {
    expect(routeBodyLimit({ path: 'builtin:content', env: { MAX_UPLOAD_BYTES: '1000' } })).toBe(1000);
    expect(routeBodyLimit({ path: './svc', env: { MAX_BODY_BYTES: '4096' } })).toBe(4096);
    expect(routeBodyLimit({ path: './svc', env: {} })).toBeUndefined();
    expect(routeBodyLimit({ path: './svc', env: { MAX_BODY_BYTES: 'lots' } })).toBeUndefined();
  });
});

describe('gateway defaults of up', () => {
  it('turn the anonymous rate limit on (the gateway alone leaves it off)', async () => {
    const { parseGatewayEnv } = await import('../../../runtime/gateway/src/env.ts');
    const env = parseGatewayEnv({ PORT: '0', ...GATEWAY_UP_DEFAULTS }).extra;
    expect(env.ANON_RATE_LIMIT_RPS).toBeGreaterThan(0);
    expect(parseGatewayEnv({ PORT: '0' }).extra.ANON_RATE_LIMIT_RPS).toBe(0);
  });
});
