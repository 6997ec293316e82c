/** Schema of the content service (portable SQL; times are epoch ms). */
import type { Migration } from '../../lib/storage/db.ts';
import { outboxMigration } from '../../lib/storage/outbox.ts';

export const migrations: Migration[] = [
  outboxMigration,
  {
    id: '001-content-items',
    up: `
      CREATE TABLE content_items (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        mime TEXT NOT NULL,
        kind TEXT NOT NULL,
        size BIGINT NOT NULL,
        filename TEXT,
        width INTEGER,
        height INTEGER,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX content_items_owner ON content_items (owner_id, created_at);
      CREATE INDEX content_items_sha ON content_items (sha256);
    `,
  },
];
