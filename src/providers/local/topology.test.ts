import { describe, expect, it } from 'vitest';
import type { ServicePlan } from './service-plan.ts';
import { depthLevels, startOrder, withDependencies } from './topology.ts';

const platform = { gateway: ['auth', 'content', 'analytics'], auth: [], content: ['auth'], analytics: [] };

describe('startOrder', () => {
  it('puts dependencies first and keeps declaration order among independent services', () => {
    expect(startOrder(platform)).toEqual(['auth', 'content', 'analytics', 'gateway']);
  });

  it('names the services of a cycle', () => {
    expect(() => startOrder({ a: ['b'], b: ['c'], c: ['a'] })).toThrow(/a → b → c → a/);
  });

  it('adds what the wanted services depend on, in start order', () => {
    expect(withDependencies(platform, ['content'])).toEqual(['auth', 'content']);
    expect(withDependencies(platform, ['gateway'])).toEqual(['auth', 'content', 'analytics', 'gateway']);
  });
});

describe('depthLevels', () => {
  const plan = (name: string, dependsOn: string[]): ServicePlan => ({
    name,
    kind: 'service',
    version: 'v1',
    entry: '',
    replicas: 1,
    basePort: 1,
    routes: [],
    dependsOn,
    readiness: '/readyz',
    env: {},
  });

  it('groups services that can start together', () => {
    const levels = depthLevels(Object.entries(platform).map(([n, d]) => plan(n, d)));
    expect(levels.map((l) => l.map((p) => p.name))).toEqual([
      ['auth', 'analytics'],
      ['content'],
      ['gateway'],
    ]);
  });
});
