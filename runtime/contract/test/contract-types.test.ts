/**
 * Type-level checks (run by `npm run typecheck`, which covers the tests): the contract's types
 * refuse a key one side renamed, so a change made on one side only fails the type check, not a
 * deployment. Each `@ts-expect-error` fails the type check if the error it expects disappears.
 */
import { describe, expect, it } from 'vitest';
import type { FaultRequest, StatsReport, WindowStats } from '../gateway-admin.ts';
import type { GatewayConfigFile } from '../gateway-config.ts';
import type { RuntimeEnv } from '../runtime-env.ts';

describe('contract types', () => {
  it('refuse keys the other side does not know', () => {
    const env: RuntimeEnv = {
      PORT: '8080',
      // @ts-expect-error a variable no runtime service reads (a typo of SERVICE_VERSION)
      SERVICE_VERSON: 'v1',
    };
    const file: GatewayConfigFile = {
      routes: [{ prefix: '/web', service: 'web' }],
      services: {
        web: {
          instances: [{ id: 'web-1', url: 'http://127.0.0.1:1' }],
          // @ts-expect-error the gateway's file calls the split `weights`
          split: { v1: 100 },
        },
      },
    };
    const fault: FaultRequest = {
      service: 'web',
      // @ts-expect-error the admin API's fault has `delayMs`, not `delay`
      delay: 100,
    };
    const stats: WindowStats = {
      requests: 0,
      errors: 0,
      errorRate: 0,
      rps: 0,
      p50: 0,
      p95: 0,
      p99: 0,
      max: 0,
    };
    // @ts-expect-error a stats report without the per-service total is not the gateway's answer
    const report: StatsReport = { windowMs: 1000, services: { web: { versions: { v1: stats } } } };
    expect([env, file, fault, report]).toHaveLength(4);
  });
});
