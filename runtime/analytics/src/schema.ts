/**
 * Analytics storage. Ingest appends accepted batches to `ingest_log` (one row per batch, so the
 * acknowledged write is a single small insert); the projector turns the log into the read models
 * below in transactions that also advance its position, so every event is applied exactly once
 * even across crashes (and `seen` makes re-ingested ids no-ops).
 */
import type { Migration } from '../../lib/storage/db.ts';

export const migrations: Migration[] = [
  {
    id: 'analytics-001-log',
    up: `
      CREATE TABLE ingest_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at INTEGER NOT NULL,
        events TEXT NOT NULL
      );
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
      CREATE TABLE user_recent (
        user_id TEXT NOT NULL,
        content_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (user_id, content_id)
      ) WITHOUT ROWID;
      CREATE TABLE co_views (
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (a, b)
      ) WITHOUT ROWID;
    `,
  },
];
