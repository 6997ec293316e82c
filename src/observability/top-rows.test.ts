import { describe, expect, it } from 'vitest';
import type { StatsReport } from '../../runtime/contract/gateway-admin.ts';
import type { PlatformStatus } from '../providers/provider.ts';
import { topRows } from './top-rows.ts';

const w = (rps: number) => ({
  requests: rps * 60,
  errors: 0,
  errorRate: 0,
  rps,
  p50: 2,
  p95: 5,
  p99: 9,
  max: 12,
});

describe('topRows', () => {
  it('lists the versions that run now, not one retired inside the window', () => {
    const status = {
      running: true,
      services: [
        {
          name: 'content',
          kind: 'service',
          healthy: true,
          versions: ['0.1.1'],
          instances: [{ id: 'content-2', version: '0.1.1', state: 'ready' }],
          traffic: { weights: { '0.1.1': 100 } },
        },
      ],
    } as unknown as PlatformStatus;
    const stats = {
      windowMs: 60_000,
      services: { content: { versions: { '0.1.0-ef754309': w(20), '0.1.1': w(10) } } },
    } as unknown as StatsReport;
    expect(topRows(status, stats).map((r) => [r.version, r.rps, r.weight])).toEqual([['0.1.1', 10, 100]]);
  });

  it('shows requests that found no instance as an error row of their service', () => {
    const status = {
      running: true,
      services: [
        {
          name: 'analytics',
          kind: 'service',
          healthy: false,
          versions: ['0.1.0'],
          instances: [{ id: 'analytics-1', version: '0.1.0', state: 'unhealthy' }],
        },
      ],
    } as unknown as PlatformStatus;
    const stats = {
      windowMs: 10_000,
      services: {
        analytics: { versions: { none: { ...w(5), errors: 300, errorRate: 1 } } },
      },
    } as unknown as StatsReport;
    expect(topRows(status, stats).map((r) => [r.version, r.instances, r.errorRate])).toEqual([
      ['0.1.0', 0, 0],
      ['(no upstream)', 0, 1],
    ]);
  });
});
