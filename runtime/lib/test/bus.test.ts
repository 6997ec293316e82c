import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/poll.ts';
import type { BusEvent, DeliveryInfo } from '../storage/bus.ts';
import { type EmbeddedBus, openEmbeddedBus } from '../storage/embedded-bus.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'bus-child.ts');
let dir: string;
const open: EmbeddedBus[] = [];
const children: ChildProcess[] = [];

function bus(): EmbeddedBus {
  const b = openEmbeddedBus(dir, { pollIntervalMs: 10, onError: () => {} });
  open.push(b);
  return b;
}

function child(...args: string[]): {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const proc = spawn(process.execPath, [fixture, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += String(d);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lib-bus-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const b of open.splice(0)) await b.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('embedded bus', () => {
  it('delivers every event to every group, in order, including events published before subscribing', async () => {
    const b = bus();
    await b.publish('orders.created', { id: 'e1', n: 1 });
    const a: string[] = [];
    const c: string[] = [];
    b.subscribe('orders.created', 'a', (e) => {
      a.push(e.id);
    });
    b.subscribe('orders.*', 'c', (e) => {
      c.push(e.id);
    });
    await b.publish('orders.created', { id: 'e2' });
    await b.publish('other.topic', { id: 'x' });
    await b.publish('orders.cancelled', { id: 'e3' });
    await until(() => a.length === 2 && c.length === 3, 'deliveries', 1000, 10);
    expect(a).toEqual(['e1', 'e2']);
    expect(c).toEqual(['e1', 'e2', 'e3']);
  });

  it('shares a group between competing consumers without double delivery of live leases', async () => {
    const b1 = bus();
    const b2 = bus();
    const seen: string[] = [];
    b1.subscribe(
      'orders.created',
      'g',
      (e) => {
        seen.push(e.id);
      },
      { batchSize: 3 },
    );
    b2.subscribe(
      'orders.created',
      'g',
      (e) => {
        seen.push(e.id);
      },
      { batchSize: 3 },
    );
    await b1.publishMany(
      Array.from({ length: 50 }, (_, i) => ({ topic: 'orders.created', event: { id: `m${i}` } })),
    );
    await until(() => seen.length >= 50, 'all 50 events', 1000, 10);
    expect(new Set(seen).size).toBe(50);
    expect(seen.length).toBe(50);
  });

  it('redelivers when the handler throws and dead-letters after maxAttempts', async () => {
    const b = bus();
    const attempts: number[] = [];
    b.subscribe(
      'orders.created',
      'retry',
      (e: BusEvent, info: DeliveryInfo) => {
        if (e.id === 'flaky') {
          attempts.push(info.attempt);
          if (info.attempt < 3) throw new Error('transient');
        }
        if (e.id === 'poison') throw new Error('always fails');
      },
      { retryDelayMs: 5, maxAttempts: 3 },
    );
    await b.publish('orders.created', { id: 'flaky' });
    await b.publish('orders.created', { id: 'poison' });
    await until(
      () => b.deadLetters('retry').length === 1 && attempts.length === 3,
      'retries and dead letter',
      1000,
      10,
    );
    expect(attempts).toEqual([1, 2, 3]);
    const [dead] = b.deadLetters('retry');
    expect(dead).toMatchObject({ id: 'poison', attempts: 3, error: 'always fails' });
  });

  it('redelivers an event claimed by a consumer process that was killed with SIGKILL', async () => {
    const b = bus();
    await b.publish('orders.created', { id: 'survives-crash' });
    const hanging = child('hang', dir, 'crashy');
    await until(() => hanging.output().includes('got survives-crash'), 'child to claim the event', 1000, 10);
    hanging.proc.kill('SIGKILL');
    await hanging.exited;
    const got: { id: string; attempt: number }[] = [];
    b.subscribe(
      'orders.created',
      'crashy',
      (e, info) => {
        got.push({ id: e.id, attempt: info.attempt });
      },
      { visibilityTimeoutMs: 300 },
    );
    await until(() => got.length === 1, 'redelivery after the lease expired', 1000, 10);
    expect(got).toEqual([{ id: 'survives-crash', attempt: 2 }]);
  });

  it('lets two processes share the bus directory: events published by a child reach this process', async () => {
    const b = bus();
    const seen = new Set<string>();
    b.subscribe('orders.created', 'cross', (e) => {
      seen.add(e.id);
    });
    const pub = child('publish', dir, '40');
    expect(await pub.exited).toBe(0);
    await until(() => seen.size === 40, 'events from the other process', 1000, 10);
  });

  it('prunes events past retention but keeps leased ones', async () => {
    const b = bus();
    await b.publish('orders.created', { id: 'old-1' });
    await b.publish('orders.created', { id: 'old-2' });
    expect(b.prune(0)).toBe(2);
    const seen: string[] = [];
    b.subscribe('orders.created', 'late', (e) => {
      seen.push(e.id);
    });
    await b.publish('orders.created', { id: 'new' });
    await until(() => seen.length === 1, 'the new event', 1000, 10);
    expect(seen).toEqual(['new']);
  });
});
