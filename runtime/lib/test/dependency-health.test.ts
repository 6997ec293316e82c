import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DependencyHealth } from '../dependency-health.ts';
import { createLogger } from '../logger.ts';

function setup() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const log = createLogger({ service: 't', version: 'dev', instance: 't-1', level: 'info', destination });
  const registry = new Registry();
  return { lines, registry, health: new DependencyHealth(registry, log) };
}

describe('dependency health', () => {
  it('logs each change once, exports it, and fails readiness only for critical backends', async () => {
    const { lines, registry, health } = setup();
    let busUp = false;
    health.add('bus', async () => {
      if (!busUp) throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
    });
    health.add('database', async () => {}, { critical: true });
    await health.check();
    await health.check();
    expect(lines.filter((l) => l.msg === 'dependency down')).toEqual([
      expect.objectContaining({
        dependency: 'bus',
        error: 'connect ECONNREFUSED 127.0.0.1:9092',
        level: 'warn',
      }),
    ]);
    expect(health.criticalDown()).toEqual([]);
    expect(health.snapshot().bus).toMatchObject({ status: 'down', critical: false });
    const text = await registry.metrics();
    expect(text).toMatch(/service_dependency_up\{dependency="bus"\} 0/);
    expect(text).toMatch(/service_dependency_up\{dependency="database"\} 1/);
    expect(text).toMatch(/service_dependency_down_since_seconds\{dependency="bus"\} 1\d{9}/);

    busUp = true;
    await health.check();
    expect(lines.filter((l) => l.msg === 'dependency up again')).toHaveLength(1);
    expect(health.snapshot().bus).toMatchObject({ status: 'up' });

    health.report('database', new Error('the database system is shutting down'));
    expect(health.criticalDown()).toEqual(['database']);
  });

  it('counts a backend that does not answer as down instead of hanging the probe', async () => {
    const { health } = setup();
    health.add('bus', () => new Promise<void>(() => {}));
    await health.check();
    expect(health.snapshot().bus).toMatchObject({ status: 'down', error: 'no answer within 2000 ms' });
  });
});
