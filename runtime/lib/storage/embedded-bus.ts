/**
 * The embedded bus: a durable log in a SQLite (WAL) file inside a directory shared by every
 * process on the host. SQLite gives us atomic, crash-safe appends and multi-process locking for
 * free, which is all a single-host bus needs; RabbitMQ takes over in clusters behind the same
 * `Bus` interface.
 *
 * Delivery model (per consumer group and subscription pattern):
 * - a cursor `next_seq` marks the first event the group has not claimed yet;
 * - claiming moves events into `bus_pending` with a lease (`visible_at`); a consumer that crashes
 *   simply never acks and the lease expires, so another (or the restarted) consumer claims it
 *   again: at-least-once;
 * - a handler that throws schedules a retry with linear back-off; after `maxAttempts` the event
 *   is moved to `bus_dead` (dead letters) so one poison event cannot block the group.
 * Claims run in `BEGIN IMMEDIATE` transactions, so competing consumers in several processes never
 * claim the same live lease twice.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  type Bus,
  type BusEvent,
  type BusHandler,
  type DeadLetterListener,
  type DeadLetter as DeadLetterNotice,
  parseEvent,
  type SubscribeOptions,
  type Subscription,
  UnprocessableEventError,
  withId,
} from './bus.ts';

export interface EmbeddedBusOptions {
  /** `FULL` (default): a published event survives power loss. `NORMAL`: survives process kill. */
  synchronous?: 'NORMAL' | 'FULL';
  /** Idle poll interval of subscriptions. Default 25 ms (events from this process wake them at once). */
  pollIntervalMs?: number;
  /**
   * Events older than this are deleted (like a Kafka topic's retention; consumers that fall that
   * far behind miss them). Leased events are kept until settled. Default 7 days; checked every
   * 10 minutes by each open bus.
   */
  retentionMs?: number;
  /** Told about every event moved to `bus_dead`. */
  onDeadLetter?: DeadLetterListener;
  /** Where handler/poll failures are reported. Default: stderr. */
  onError?: (err: unknown, context: { topic: string; group: string; seq?: number }) => void;
}

const TOPIC = /^[A-Za-z0-9_.:-]{1,200}$/;
const PATTERN = /^(\*|[A-Za-z0-9_.:-]{1,200}(\.\*)?)$/;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bus_messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload TEXT NOT NULL,
  published_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bus_messages_topic ON bus_messages (topic, seq);
CREATE TABLE IF NOT EXISTS bus_cursors (
  grp TEXT NOT NULL, pattern TEXT NOT NULL, next_seq INTEGER NOT NULL,
  PRIMARY KEY (grp, pattern)
);
CREATE TABLE IF NOT EXISTS bus_pending (
  grp TEXT NOT NULL, pattern TEXT NOT NULL, seq INTEGER NOT NULL,
  attempts INTEGER NOT NULL, visible_at INTEGER NOT NULL, last_error TEXT,
  PRIMARY KEY (grp, pattern, seq)
);
CREATE INDEX IF NOT EXISTS bus_pending_visible ON bus_pending (grp, pattern, visible_at);
CREATE TABLE IF NOT EXISTS bus_dead (
  grp TEXT NOT NULL, pattern TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,
  topic TEXT NOT NULL, payload TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT,
  dead_at INTEGER NOT NULL, PRIMARY KEY (grp, pattern, seq)
);
`;

interface MessageRow {
  seq: number;
  id: string;
  topic: string;
  payload: string;
  published_at: number;
  attempts: number;
}

/** A dead-lettered event, for inspection and manual replay. */
export interface DeadLetter {
  group: string;
  pattern: string;
  seq: number;
  id: string;
  topic: string;
  event: BusEvent;
  attempts: number;
  error: string | null;
  deadAt: number;
}

/** Opens (creating if needed) the bus log `<dir>/bus.db`. */
export function openEmbeddedBus(dir: string, options: EmbeddedBusOptions = {}): EmbeddedBus {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, 'bus.db'));
  db.pragma('busy_timeout = 10000');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
  // Several processes may create the schema at once; the write lock serialises them.
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(SCHEMA);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
  return new EmbeddedBus(db, options);
}

function matchClause(pattern: string): { sql: string; arg: string | undefined } {
  if (pattern === '*') return { sql: '1 = 1', arg: undefined };
  if (pattern.endsWith('.*')) return { sql: 'topic GLOB ?', arg: pattern };
  return { sql: 'topic = ?', arg: pattern };
}

export class EmbeddedBus implements Bus {
  private readonly db: Database.Database;
  private readonly options: EmbeddedBusOptions;
  private readonly subscriptions = new Set<EmbeddedSubscription>();
  private readonly insert: Database.Statement;
  private closed = false;
  private readonly pruneTimer: NodeJS.Timeout;

  constructor(db: Database.Database, options: EmbeddedBusOptions) {
    this.db = db;
    this.options = options;
    this.insert = db.prepare(
      'INSERT INTO bus_messages (id, topic, payload, published_at) VALUES (?, ?, ?, ?)',
    );
    this.pruneTimer = setInterval(() => {
      try {
        this.prune();
      } catch {
        // Busy or closing: the next round retries.
      }
    }, 600_000);
    this.pruneTimer.unref();
  }

  /** Deletes events past retention that are not leased; returns how many. */
  prune(retentionMs = this.options.retentionMs ?? 7 * 86_400_000): number {
    return this.db
      .prepare(
        'DELETE FROM bus_messages WHERE published_at <= ? AND seq NOT IN (SELECT seq FROM bus_pending)',
      )
      .run(Date.now() - retentionMs).changes;
  }

  /** @internal */
  get handle(): Database.Database {
    return this.db;
  }

  async publish(topic: string, event: Omit<BusEvent, 'id'> & { id?: string }): Promise<BusEvent> {
    const full = withId(event) as BusEvent;
    await this.publishMany([{ topic, event: full }]);
    return full;
  }

  async publishMany(items: readonly { topic: string; event: BusEvent }[]): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    for (const { topic, event } of items) {
      if (!TOPIC.test(topic)) throw new Error(`invalid bus topic "${topic}"`);
      if (typeof event.id !== 'string' || event.id === '') throw new Error('bus events need a string id');
    }
    const now = Date.now();
    this.db
      .transaction(() => {
        for (const { topic, event } of items) this.insert.run(event.id, topic, JSON.stringify(event), now);
      })
      .immediate();
    for (const sub of this.subscriptions) sub.wake();
  }

  subscribe<E extends BusEvent = BusEvent>(
    topic: string,
    group: string,
    handler: BusHandler<E>,
    options: SubscribeOptions = {},
  ): Subscription {
    if (this.closed) throw new Error('bus is closed');
    if (!PATTERN.test(topic)) throw new Error(`invalid subscription pattern "${topic}"`);
    if (!TOPIC.test(group)) throw new Error(`invalid consumer group "${group}"`);
    const sub = new EmbeddedSubscription(this.db, topic, group, handler as BusHandler, options, this.options);
    this.subscriptions.add(sub);
    sub.start();
    return {
      stop: async () => {
        this.subscriptions.delete(sub);
        await sub.stop();
      },
    };
  }

  /** Dead letters of a group, oldest first. */
  deadLetters(group: string): DeadLetter[] {
    const rows = this.db.prepare('SELECT * FROM bus_dead WHERE grp = ? ORDER BY seq').all(group) as (Omit<
      MessageRow,
      'published_at'
    > & {
      grp: string;
      pattern: string;
      error: string | null;
      dead_at: number;
    })[];
    return rows.map((r) => ({
      group: r.grp,
      pattern: r.pattern,
      seq: r.seq,
      id: r.id,
      topic: r.topic,
      event: JSON.parse(r.payload) as BusEvent,
      attempts: r.attempts,
      error: r.error,
      deadAt: r.dead_at,
    }));
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pruneTimer);
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.subscriptions.clear();
    this.db.close();
  }
}

class EmbeddedSubscription {
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly batchSize: number;
  private readonly visibilityMs: number;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly pollMs: number;
  private readonly stmts: ReturnType<EmbeddedSubscription['prepare']>;
  private readonly db: Database.Database;
  private readonly pattern: string;
  private readonly group: string;
  private readonly handler: BusHandler;
  private readonly busOptions: EmbeddedBusOptions;

  constructor(
    db: Database.Database,
    pattern: string,
    group: string,
    handler: BusHandler,
    options: SubscribeOptions,
    busOptions: EmbeddedBusOptions,
  ) {
    this.db = db;
    this.pattern = pattern;
    this.group = group;
    this.handler = handler;
    this.busOptions = busOptions;
    this.batchSize = options.batchSize ?? 64;
    this.visibilityMs = options.visibilityTimeoutMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 200;
    this.pollMs = busOptions.pollIntervalMs ?? 25;
    this.stmts = this.prepare();
  }

  private prepare() {
    const { sql: match, arg } = matchClause(this.pattern);
    const key = [this.group, this.pattern];
    const m = (extra: unknown[]) =>
      arg === undefined ? extra : [...extra.slice(0, 1), arg, ...extra.slice(1)];
    const db = this.db;
    const fresh = db.prepare(
      `SELECT seq, id, topic, payload, published_at, 1 AS attempts FROM bus_messages
       WHERE seq >= ? AND ${match} ORDER BY seq LIMIT ?`,
    );
    const freshExists = db.prepare(`SELECT 1 FROM bus_messages WHERE seq >= ? AND ${match} LIMIT 1`);
    const cursor = db.prepare('SELECT next_seq FROM bus_cursors WHERE grp = ? AND pattern = ?');
    const maxSeq = db.prepare('SELECT max(seq) AS m FROM bus_messages');
    const dueExists = db.prepare(
      'SELECT 1 FROM bus_pending WHERE grp = ? AND pattern = ? AND visible_at <= ? LIMIT 1',
    );
    const due = db.prepare(
      `SELECT p.seq, m.id, m.topic, m.payload, m.published_at, p.attempts + 1 AS attempts
       FROM bus_pending p JOIN bus_messages m ON m.seq = p.seq
       WHERE p.grp = ? AND p.pattern = ? AND p.visible_at <= ? ORDER BY p.seq LIMIT ?`,
    );
    return {
      cursor: () => (cursor.get(...key) as { next_seq: number } | undefined)?.next_seq ?? 0,
      setCursor: (next: number) =>
        db
          .prepare(
            `INSERT INTO bus_cursors (grp, pattern, next_seq) VALUES (?, ?, ?)
             ON CONFLICT (grp, pattern) DO UPDATE SET next_seq = excluded.next_seq`,
          )
          .run(...key, next),
      maxSeq: () => (maxSeq.get() as { m: number | null }).m ?? 0,
      fresh: (from: number, limit: number) => fresh.all(...m([from, limit])) as MessageRow[],
      freshExists: (from: number) => freshExists.get(...m([from])) !== undefined,
      dueExists: (now: number) => dueExists.get(...key, now) !== undefined,
      due: (now: number, limit: number) => due.all(...key, now, limit) as MessageRow[],
      lease: db.prepare(
        `INSERT INTO bus_pending (grp, pattern, seq, attempts, visible_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (grp, pattern, seq) DO UPDATE SET attempts = excluded.attempts, visible_at = excluded.visible_at`,
      ),
      release: db.prepare(
        'UPDATE bus_pending SET visible_at = 0, attempts = attempts - 1 WHERE grp = ? AND pattern = ? AND seq = ?',
      ),
      ack: db.prepare('DELETE FROM bus_pending WHERE grp = ? AND pattern = ? AND seq = ?'),
      retry: db.prepare(
        'UPDATE bus_pending SET visible_at = ?, last_error = ? WHERE grp = ? AND pattern = ? AND seq = ?',
      ),
      dead: db.prepare(
        `INSERT OR REPLACE INTO bus_dead (grp, pattern, seq, id, topic, payload, attempts, error, dead_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  start(): void {
    this.loop = this.run();
  }

  wake(): void {
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loop;
  }

  private hasWork(now: number): boolean {
    return this.stmts.dueExists(now) || this.stmts.freshExists(this.stmts.cursor());
  }

  /** Leases up to `batchSize` events: expired/retry-due ones first, then new ones. */
  private claim(): MessageRow[] {
    const s = this.stmts;
    return this.db
      .transaction(() => {
        const now = Date.now();
        const visibleAt = now + this.visibilityMs;
        const batch = s.due(now, this.batchSize);
        if (batch.length < this.batchSize) {
          const from = s.cursor();
          const limit = this.batchSize - batch.length;
          const fresh = s.fresh(from, limit);
          batch.push(...fresh);
          // Skip past non-matching events too, so pattern subscriptions do not rescan them.
          const next = fresh.length === limit ? fresh[fresh.length - 1]!.seq + 1 : s.maxSeq() + 1;
          if (next !== from) s.setCursor(Math.max(next, from));
        }
        for (const row of batch) s.lease.run(this.group, this.pattern, row.seq, row.attempts, visibleAt);
        return batch;
      })
      .immediate();
  }

  private settle(
    acked: number[],
    failed: { row: MessageRow; error: string; unprocessable: boolean }[],
    released: number[],
  ): void {
    const s = this.stmts;
    const dead: DeadLetterNotice[] = [];
    this.db
      .transaction(() => {
        for (const seq of acked) s.ack.run(this.group, this.pattern, seq);
        for (const seq of released) s.release.run(this.group, this.pattern, seq);
        const now = Date.now();
        for (const { row, error, unprocessable } of failed) {
          if (unprocessable || row.attempts >= this.maxAttempts) {
            s.dead.run(
              this.group,
              this.pattern,
              row.seq,
              row.id,
              row.topic,
              row.payload,
              row.attempts,
              error,
              now,
            );
            s.ack.run(this.group, this.pattern, row.seq);
            dead.push({
              id: row.id,
              queue: `bus_dead ${this.group}`,
              topic: row.topic,
              reason: error,
              attempts: row.attempts,
            });
          } else {
            s.retry.run(now + this.retryDelayMs * row.attempts, error, this.group, this.pattern, row.seq);
          }
        }
      })
      .immediate();
    // Told after the commit: a listener never hears of a dead letter that was rolled back.
    for (const d of dead) this.busOptions.onDeadLetter?.(d);
  }

  private report(err: unknown, seq?: number): void {
    const context = { topic: this.pattern, group: this.group, ...(seq === undefined ? {} : { seq }) };
    if (this.busOptions.onError) this.busOptions.onError(err, context);
    else process.stderr.write(`bus: ${JSON.stringify(context)} ${String(err)}\n`);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let handled = 0;
      try {
        if (this.hasWork(Date.now())) {
          const batch = this.claim();
          handled = batch.length;
          const acked: number[] = [];
          const failed: { row: MessageRow; error: string; unprocessable: boolean }[] = [];
          const released: number[] = [];
          for (const row of batch) {
            // Once stopping, hand the rest back at once (without counting an attempt) rather than
            // keeping it leased until the visibility timeout.
            if (this.stopped) {
              released.push(row.seq);
              continue;
            }
            const parsed = parseEvent(row.payload);
            if ('reason' in parsed) {
              failed.push({ row, error: parsed.reason, unprocessable: true });
              continue;
            }
            try {
              await this.handler(parsed.event, {
                topic: row.topic,
                seq: row.seq,
                attempt: row.attempts,
                publishedAt: row.published_at,
              });
              acked.push(row.seq);
            } catch (err) {
              this.report(err, row.seq);
              failed.push({
                row,
                error: err instanceof Error ? err.message : String(err),
                unprocessable: err instanceof UnprocessableEventError,
              });
            }
          }
          this.settle(acked, failed, released);
        }
      } catch (err) {
        this.report(err);
        handled = 0;
      }
      if (handled === 0 && !this.stopped) await this.sleep(this.pollMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }
}
