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
];
