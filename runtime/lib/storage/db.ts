/**
 * The relational storage seam. Services write portable SQL with `?` placeholders against this
 * interface; `openDb(url)` picks the adapter by URL scheme (`sqlite://` today, `postgres://` later),
 * so swapping SQLite for PostgreSQL is a configuration change, not a code change.
 */

/** Bound parameter values accepted by every adapter. */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array;
export type SqlParams = readonly SqlValue[];

export interface RunResult {
  /** Rows inserted/updated/deleted by the statement. */
  changes: number;
  /** Row id of the last insert where the dialect has one (SQLite); undefined otherwise. */
  lastInsertRowid?: number | bigint;
}

/** Statements available both on the database and inside a transaction. */
export interface SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /** Rows of a SELECT (or RETURNING) statement. */
  query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]>;
  /** First row or undefined. */
  get<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | undefined>;
  /** A statement without result rows. */
  run(sql: string, params?: SqlParams): Promise<RunResult>;
  /** The same statement once per parameter set; adapters batch it (prepared once, one round trip). */
  runMany(sql: string, paramSets: readonly SqlParams[]): Promise<RunResult>;
  /** One or more statements without parameters (DDL in migrations). */
  exec(sql: string): Promise<void>;
}

/** Executor bound to an open transaction. */
export type Tx = SqlExecutor;

/** One schema step. `up` is SQL or a function for dialect-specific or data migrations. */
export interface Migration {
  /** Stable, sortable id, e.g. `001-create-users`. Applied once, in array order. */
  id: string;
  up: string | ((tx: Tx) => Promise<void>);
}

export interface Db extends SqlExecutor {
  /**
   * Runs `fn` in one transaction: commit when it resolves, roll back when it throws. Writes are
   * serialised (SQLite: BEGIN IMMEDIATE), other statements on this handle wait until it ends.
   */
  transaction<T>(fn: (tx: Tx) => Promise<T> | T): Promise<T>;
  /** Applies the migrations not yet recorded in `_migrations`; returns the ids applied now. */
  migrate(migrations: readonly Migration[]): Promise<string[]>;
  /** Cheap liveness probe used by `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /**
   * SQLite `synchronous` level. `NORMAL` (default) survives a process kill (-9) because a committed
   * WAL frame is in the OS page cache; `FULL` also survives power loss at the cost of an fsync per
   * commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** Milliseconds to wait for another process's write lock. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * SQLite page size in bytes for a database this call creates (a power of two, 512–65536; an
   * existing file keeps its own until a `VACUUM`). Default SQLite's 4096. Larger pages keep rows of
   * a few KiB in their leaf page instead of overflow pages (see the analytics service).
   */
  pageSize?: number;
}

/**
 * Opens a database by URL: `sqlite:///abs/file.db`, `sqlite://rel/file.db`, `sqlite://:memory:`,
 * `postgres://user@host:5432/db?pool_max=10` (see postgres.ts).
 */
export async function openDb(url: string, options: OpenDbOptions = {}): Promise<Db> {
  const scheme = url.slice(0, url.indexOf(':'));
  switch (scheme) {
    case 'sqlite': {
      const { openSqlite } = await import('./sqlite.ts');
      return openSqlite(stripScheme(url), options);
    }
    case 'postgres':
    case 'postgresql': {
      const { openPostgres } = await import('./postgres.ts');
      return openPostgres(url);
    }
    default:
      throw new Error(
        `DATABASE_URL has an unsupported scheme "${scheme}:"; expected sqlite:// or postgres://`,
      );
  }
}

/** `scheme://rest?query` → `rest` (a filesystem path for the embedded adapters). */
export function stripScheme(url: string): string {
  const rest = url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const q = rest.indexOf('?');
  return q === -1 ? rest : rest.slice(0, q);
}

/** Query parameters of a storage URL (`sqlite:///x.db?sync=full`). */
export function urlParams(url: string): URLSearchParams {
  const q = url.indexOf('?');
  return new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
}

/**
 * Applies the migrations not yet recorded in `_migrations`, each in its own transaction together
 * with its record, and returns the ids applied. `lock` runs first inside each transaction so that
 * replicas starting together migrate one at a time (the adapter knows how to lock). Shared by
 * every adapter so a migration means the same thing on SQLite and PostgreSQL.
 */
export async function applyMigrations(
  db: Pick<Db, 'transaction'>,
  migrations: readonly Migration[],
  lock?: (tx: Tx) => Promise<void>,
): Promise<string[]> {
  const applied: string[] = [];
  for (const migration of migrations) {
    // Checked again inside the write transaction: another process may be migrating too.
    const done = await db.transaction(async (tx) => {
      if (lock) await lock(tx);
      if (await tx.get('SELECT id FROM _migrations WHERE id = ?', [migration.id])) return false;
      if (typeof migration.up === 'string') await tx.exec(migration.up);
      else await migration.up(tx);
      await tx.run('INSERT INTO _migrations (id, applied_at) VALUES (?, ?)', [
        migration.id,
        new Date().toISOString(),
      ]);
      return true;
    });
    if (done) applied.push(migration.id);
  }
  return applied;
}
