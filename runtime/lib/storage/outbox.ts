/**
 * Transactional outbox: a service writes its state change and the event announcing it in the same
 * database transaction (`enqueueOutbox(tx, ...)`), and a relay publishes unsent rows to the bus
 * afterwards. The event is published if and only if the change committed, without a distributed
 * transaction. Delivery is at-least-once (a crash between publish and "mark sent" republishes),
 * which consumers absorb through the event id.
 */
import { randomUUID } from 'node:crypto';
import { currentRequest } from '../request-context.ts';
import type { Bus, BusEvent } from './bus.ts';
import type { Migration, SqlExecutor } from './db.ts';

/** Add to a service's migrations to create the `outbox` table. */
export const outboxMigration: Migration = {
  id: 'lib-outbox-001',
  up: async (tx) => {
    const seq = tx.dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
    await tx.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq ${seq},
      id TEXT NOT NULL UNIQUE,
      topic TEXT NOT NULL,
      payload TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      sent_at BIGINT
    )`);
    await tx.exec('CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at, seq)');
  },
};

/**
 * Records an event to publish once the surrounding transaction commits. Returns the event. The
 * event carries the W3C `traceparent` of the request being handled (unless it names its own, even
 * as undefined), so the consumer's span joins the producer's trace.
 *
 * An id names one event: enqueueing an id the outbox already holds does nothing, so a writer that
 * cannot tell whether its COMMIT went through (the answer was lost) retries with the same ids
 * without duplicating the events.
 */
export async function enqueueOutbox<E extends Record<string, unknown>>(
  tx: SqlExecutor,
  topic: string,
  event: E & { id?: string },
): Promise<E & { id: string }> {
  const traceparent = 'traceparent' in event ? event.traceparent : currentRequest()?.traceparent;
  const full = { ...event, id: event.id ?? randomUUID(), ...(traceparent ? { traceparent } : {}) };
  // Same statement on SQLite (>= 3.24) and PostgreSQL; `id` is UNIQUE.
  await tx.run(
    'INSERT INTO outbox (id, topic, payload, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
    [full.id, topic, JSON.stringify(full), Date.now()],
  );
  return full;
}

export interface OutboxRelayOptions {
  db: import('./db.ts').Db;
  bus: Bus;
  /** Idle poll interval. Default 50 ms; `nudge()` after a commit publishes at once. */
  intervalMs?: number;
  batchSize?: number;
  /** Sent rows older than this are deleted. Default 1 day. */
  keepSentMs?: number;
  onError?: (err: unknown) => void;
}

export interface OutboxRelay {
  /** Publish pending rows now (call after committing a transaction that enqueued events). */
  nudge(): void;
  /** Publishes everything pending; resolves when the outbox is empty. */
  flush(): Promise<void>;
  /** Stops the relay after the batch in progress. */
  stop(): Promise<void>;
}

/** Starts the background relay from the outbox table to the bus. */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, bus } = options;
  const intervalMs = options.intervalMs ?? 50;
  const batchSize = options.batchSize ?? 200;
  const keepSentMs = options.keepSentMs ?? 86_400_000;
  let stopped = false;
  let wake: (() => void) | undefined;
  let lastPrune = 0;

  // The background loop and `flush()` must never relay the same rows concurrently.
  let queue: Promise<unknown> = Promise.resolve();
  function relayOnce(): Promise<number> {
    const next = queue.then(relayBatch, relayBatch);
    queue = next.catch(() => {});
    return next;
  }

  async function relayBatch(): Promise<number> {
    const rows = await db.query<{ seq: number; id: string; topic: string; payload: string }>(
      'SELECT seq, id, topic, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?',
      [batchSize],
    );
    if (rows.length === 0) return 0;
    await bus.publishMany(rows.map((r) => ({ topic: r.topic, event: JSON.parse(r.payload) as BusEvent })));
    const now = Date.now();
    await db.runMany(
      'UPDATE outbox SET sent_at = ? WHERE seq = ?',
      rows.map((r) => [now, r.seq]),
    );
    if (now - lastPrune > 60_000) {
      lastPrune = now;
      await db.run('DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?', [now - keepSentMs]);
    }
    return rows.length;
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      let n = 0;
      try {
        n = await relayOnce();
      } catch (err) {
        if (options.onError) options.onError(err);
        else process.stderr.write(`outbox relay: ${String(err)}\n`);
      }
      if (n === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, intervalMs);
          function done() {
            clearTimeout(timer);
            resolve();
          }
          wake = done;
        });
      }
    }
  }

  const running = loop();
  return {
    nudge: () => wake?.(),
    flush: async () => {
      for (let i = 0; i < 10_000; i++) if ((await relayOnce()) === 0) return;
    },
    stop: async () => {
      stopped = true;
      wake?.();
      await running;
    },
  };
}
