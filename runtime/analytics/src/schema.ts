/**
 * Analytics storage, in two databases so ingest never waits for projection:
 * - the ingest log (`ANALYTICS_LOG_URL`, default `<DATA_DIR>/analytics-log.db`): accepted
 *   batches, one row each, so the acknowledged write is a single small insert;
 * - the read models (`DATABASE_URL`): what the projector derives from the log, together with its
 *   log position in the same transaction, so every event is applied exactly once even across
 *   crashes (and `seen` makes re-ingested ids no-ops).
 * With SQLite each database has its own write lock: the projector's large transactions never
 * block an ingest commit.
 */
import type { Migration } from '../../lib/storage/db.ts';
import { CO_VIEW_CAPACITY, encodeSketch } from './co-view-sketch.ts';
import { hllAddMany } from './hll.ts';

export const logMigrations: Migration[] = [
  {
    id: 'analytics-log-001',
    up: `
      CREATE TABLE ingest_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at INTEGER NOT NULL,
        events TEXT NOT NULL
      );
    `,
  },
];

/** SQLite page size of a new read-model database (why: main.ts, where it is opened). */
export const READ_MODEL_PAGE_SIZE = 16384;

export const migrations: Migration[] = [
  {
    id: 'analytics-001-projection',
    up: `
      CREATE TABLE projector_state (name TEXT PRIMARY KEY, position INTEGER NOT NULL);
      CREATE TABLE seen (id TEXT PRIMARY KEY) WITHOUT ROWID;
    `,
  },
  {
    id: 'analytics-002-read-models',
    up: `
      CREATE TABLE item_totals (
        content_id TEXT PRIMARY KEY,
        views INTEGER NOT NULL DEFAULT 0,
        uploads INTEGER NOT NULL DEFAULT 0,
        other INTEGER NOT NULL DEFAULT 0,
        viewers BLOB,
        last_ts INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE TABLE item_minutes (
        content_id TEXT NOT NULL,
        minute INTEGER NOT NULL,
        views INTEGER NOT NULL,
        PRIMARY KEY (content_id, minute)
      ) WITHOUT ROWID;
      CREATE INDEX item_minutes_by_minute ON item_minutes (minute, content_id, views);
      CREATE TABLE item_day_viewers (
        content_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        registers BLOB NOT NULL,
        PRIMARY KEY (content_id, day)
      ) WITHOUT ROWID;
      CREATE TABLE co_views (
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (a, b)
      ) WITHOUT ROWID;
    `,
  },
  {
    // Who viewed what in which minute: trending ranks by distinct viewers, so one account
    // posting a thousand views of an item counts once.
    id: 'analytics-003-minute-viewers',
    up: `
      CREATE TABLE item_minute_viewers (
        content_id TEXT NOT NULL,
        minute INTEGER NOT NULL,
        user_id TEXT NOT NULL,
        PRIMARY KEY (content_id, minute, user_id)
      ) WITHOUT ROWID;
      CREATE INDEX item_minute_viewers_by_minute ON item_minute_viewers (minute, content_id);
    `,
  },
  {
    // Co-views were one row per pair of items ever co-viewed (growing with items squared); now one
    // bounded Space-Saving sketch per item (co-view-sketch.ts). Each item keeps its heaviest
    // existing partners with their exact counts.
    id: 'analytics-004-co-view-sketches',
    up: async (tx) => {
      await tx.exec(
        'CREATE TABLE co_view_topk (content_id TEXT PRIMARY KEY, partners TEXT NOT NULL) WITHOUT ROWID',
      );
      let after = '';
      for (;;) {
        const items = await tx.query<{ a: string }>(
          'SELECT DISTINCT a FROM co_views WHERE a > ? ORDER BY a LIMIT 500',
          [after],
        );
        if (items.length === 0) break;
        for (const { a } of items) {
          const rows = await tx.query<{ b: string; n: number }>(
            'SELECT b, n FROM co_views WHERE a = ? ORDER BY n DESC, b LIMIT ?',
            [a, CO_VIEW_CAPACITY],
          );
          const counters = rows.flatMap((r) => [r.b, Number(r.n), 0]);
          await tx.run('INSERT INTO co_view_topk (content_id, partners) VALUES (?, ?)', [
            a,
            encodeSketch(counters),
          ]);
        }
        after = items[items.length - 1]!.a;
      }
      await tx.exec('DROP TABLE co_views');
    },
  },
  {
    // `seen` was keyed by the event id alone, so with random ids (UUIDs) every projected event
    // dirtied a random page of an ever-growing B-tree, and projection slowed as history grew.
    // Keyed by (ts, id) the inserts land at the recent end of the tree, and ids older than the
    // dedup horizon are pruned from the old end (see projector.ts). Ids recorded before this
    // migration carry no time and are dropped: a replay of one of them, later than the ingest
    // window, would count again.
    id: 'analytics-005-seen-by-time',
    up: `
      DROP TABLE seen;
      CREATE TABLE seen (ts INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (ts, id)) WITHOUT ROWID;
    `,
  },
  {
    // Trending's distinct viewers were one row per (item, minute, viewer): a row and an index entry
    // for nearly every view, the projector's largest write, and a table growing with traffic. Now one
    // HyperLogLog sketch per item and minute (hll.ts; sparse while small, at most 4 KiB), keyed by
    // minute first so each slice writes at the recent end of the tree and trending reads a range.
    id: 'analytics-006-minute-viewer-sketches',
    up: async (tx) => {
      await tx.exec(`
        CREATE TABLE item_minute_sketches (
          minute INTEGER NOT NULL,
          content_id TEXT NOT NULL,
          registers BLOB NOT NULL,
          PRIMARY KEY (minute, content_id)
        ) WITHOUT ROWID
      `);
      let after: [number, string] = [Number.MIN_SAFE_INTEGER, ''];
      for (;;) {
        const keys = await tx.query<{ minute: number; content_id: string }>(
          `SELECT DISTINCT minute, content_id FROM item_minute_viewers
           WHERE minute > ? OR (minute = ? AND content_id > ?) ORDER BY minute, content_id LIMIT 500`,
          [after[0], after[0], after[1]],
        );
        if (keys.length === 0) break;
        for (const { minute, content_id } of keys) {
          const users = await tx.query<{ user_id: string }>(
            'SELECT user_id FROM item_minute_viewers WHERE content_id = ? AND minute = ?',
            [content_id, minute],
          );
          const registers = hllAddMany(
            undefined,
            users.map((u) => u.user_id),
          ) as Uint8Array;
          await tx.run('INSERT INTO item_minute_sketches (minute, content_id, registers) VALUES (?, ?, ?)', [
            minute,
            content_id,
            registers,
          ]);
        }
        const last = keys[keys.length - 1]!;
        after = [Number(last.minute), last.content_id];
      }
      await tx.exec('DROP TABLE item_minute_viewers');
    },
  },
];
