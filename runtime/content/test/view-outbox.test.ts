import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dependencyUnavailable } from '../../lib/http-errors.ts';
import type { BusEvent } from '../../lib/storage/bus.ts';
import { type Db, openDb } from '../../lib/storage/db.ts';
import { openEmbeddedBus } from '../../lib/storage/embedded-bus.ts';
import { outboxMigration, startOutboxRelay } from '../../lib/storage/outbox.ts';
import { ViewOutbox } from '../src/view-outbox.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A real SQLite database whose transactions fail while `down` is set, like a restarting server. */
async function flakyDb(): Promise<{ db: Db; setDown(v: boolean): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'view-outbox-'));
  dirs.push(dir);
  const real = await openDb(`sqlite://${join(dir, 'c.db')}`);
  await real.migrate([outboxMigration]);
  let down = false;
  const db = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'transaction' && down) {
        return async () => {
          throw dependencyUnavailable(
            'DATABASE_UNAVAILABLE',
            'database',
            'the database system is shutting down',
          );
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { db, setDown: (v) => (down = v) };
}

/**
 * A real SQLite database whose next transaction commits and then fails the way PostgresDb does
 * when the connection is cut after COMMIT reached the server but before its answer came back.
 */
async function lostAnswerDb(): Promise<{ db: Db; loseNextAnswer(): void; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'view-outbox-'));
  dirs.push(dir);
  const real = await openDb(`sqlite://${join(dir, 'c.db')}`);
  await real.migrate([outboxMigration]);
  let lose = false;
  const db = new Proxy(real, {
    get(target, prop, receiver) {
      if (prop === 'transaction') {
        return async (fn: Parameters<Db['transaction']>[0]) => {
          const result = await target.transaction(fn);
          if (lose) {
            lose = false;
            throw dependencyUnavailable(
              'DATABASE_UNAVAILABLE',
              'database',
              'the database is unavailable; retry shortly',
              new Error('Connection terminated unexpectedly'),
            );
          }
          return result;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { db, loseNextAnswer: () => (lose = true), dir };
}

const view = (n: number) => ({
  type: 'view' as const,
  contentId: `c${n}`,
  userId: 'u',
  ts: n,
  traceparent: undefined,
});

describe('view outbox', () => {
  it('keeps views through a database outage and stores each exactly once, in order', async () => {
    const { db, setDown } = await flakyDb();
    const events: string[] = [];
    const outbox = new ViewOutbox(db, {
      flushMs: 1,
      batch: 7,
      retryMs: 5,
      maxRetryMs: 20,
      onError: () => events.push('error'),
      onRecovered: (stored) => events.push(`recovered ${stored}`),
    });
    for (let i = 0; i < 10; i++) outbox.record(view(i));
    await outbox.flush();
    setDown(true);
    for (let i = 10; i < 40; i++) outbox.record(view(i));
    await outbox.flush();
    await new Promise((r) => setTimeout(r, 60));
    expect(outbox.buffered).toBe(30);
    setDown(false);
    for (let i = 0; i < 200 && outbox.buffered > 0; i++) await new Promise((r) => setTimeout(r, 10));
    const rows = await db.query<{ payload: string }>('SELECT payload FROM outbox ORDER BY seq');
    expect(rows.map((r) => (JSON.parse(r.payload) as { contentId: string }).contentId)).toEqual(
      Array.from({ length: 40 }, (_, i) => `c${i}`),
    );
    // One line when the outage starts, one when the backlog is stored: not one per retry.
    expect(events).toEqual(['error', 'recovered 30']);
    await outbox.close();
    await db.close();
  });

  it('writes a batch whose COMMIT answer was lost only once, under the ids given when recorded', async () => {
    const { db, loseNextAnswer, dir } = await lostAnswerDb();
    const errors: unknown[] = [];
    const outbox = new ViewOutbox(db, {
      flushMs: 1,
      retryMs: 5,
      onError: (err) => errors.push(err),
    });
    loseNextAnswer();
    const recorded = Array.from({ length: 5 }, (_, i) => outbox.record(view(i)));
    await outbox.flush();
    // The batch is kept: from here the write looked failed, although it committed.
    expect(errors).toHaveLength(1);
    expect(outbox.buffered).toBe(5);
    const ids = async () =>
      (await db.query<{ id: string }>('SELECT id FROM outbox ORDER BY seq')).map((r) => r.id);
    const committed = await ids();
    expect(committed).toHaveLength(5);
    for (let i = 0; i < 200 && outbox.buffered > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(outbox.buffered).toBe(0);
    // The retry added nothing: one row per view, under the id the view got when it was recorded.
    expect(await ids()).toEqual(committed);
    expect(recorded.map((v) => v.id)).toEqual(committed);
    const payloads = await db.query<{ payload: string }>('SELECT payload FROM outbox ORDER BY seq');
    expect(payloads.map((r) => (JSON.parse(r.payload) as { id: string }).id)).toEqual(committed);

    // What the relay delivers: each view once, under the id it was recorded with.
    const bus = openEmbeddedBus(join(dir, 'bus'), { pollIntervalMs: 5 });
    const delivered: BusEvent[] = [];
    bus.subscribe('content.viewed', 'analytics', (e) => {
      delivered.push(e);
    });
    const relay = startOutboxRelay({ db, bus, intervalMs: 5 });
    await relay.flush();
    for (let i = 0; i < 300 && delivered.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    await relay.stop();
    await new Promise((r) => setTimeout(r, 30));
    await bus.close();
    expect(delivered.map((e) => e.id)).toEqual(committed);
    expect(delivered.map((e) => e.contentId)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    await outbox.close();
    await db.close();
  });

  it('bounds the buffer and reports what it had to drop', async () => {
    const { db, setDown } = await flakyDb();
    let dropped = 0;
    const outbox = new ViewOutbox(db, { maxBuffered: 5, retryMs: 1000, onDropped: (n) => (dropped += n) });
    setDown(true);
    for (let i = 0; i < 8; i++) outbox.record(view(i));
    expect(dropped).toBe(3);
    await outbox.close();
    expect(dropped).toBe(8);
    await db.close();
  });
});

describe('view outbox timing', () => {
  it('stores views recorded while a write is in flight without waiting for a full batch', async () => {
    const { db } = await flakyDb();
    const outbox = new ViewOutbox(db, { flushMs: 1, batch: 500 });
    for (let round = 0; round < 20; round++) {
      outbox.record(view(round));
      await new Promise((r) => setTimeout(r, round % 3));
    }
    for (let i = 0; i < 100 && outbox.buffered > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(outbox.buffered).toBe(0);
    await outbox.close();
    await db.close();
  });
});
