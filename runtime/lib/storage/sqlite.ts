/**
 * SQLite adapter for `Db` (better-sqlite3). better-sqlite3 is synchronous, which is the fastest
 * way to drive SQLite from Node; the async facade keeps the interface portable to PostgreSQL.
 * Because statements of an async transaction could otherwise interleave with unrelated calls on
 * the same connection, a transaction holds a gate that other calls on this handle wait behind.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  applyMigrations,
  type Db,
  type Migration,
  type OpenDbOptions,
  type RunResult,
  type SqlExecutor,
  type SqlParams,
  type Tx,
} from './db.ts';

type Statement = Database.Statement<unknown[], unknown>;

const STATEMENT_CACHE_LIMIT = 256;

/** Opens (creating if needed) a SQLite database file in WAL mode. `:memory:` is accepted. */
export function openSqlite(path: string, options: OpenDbOptions = {}): SqliteDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const raw = new Database(path);
  // Only takes effect on a new, empty database, and only before it switches to WAL.
  if (options.pageSize) raw.pragma(`page_size = ${options.pageSize}`);
  raw.pragma('journal_mode = WAL');
  raw.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  raw.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  raw.pragma('foreign_keys = ON');
  return new SqliteDb(raw);
}

function bind(params: SqlParams | undefined): unknown[] {
  if (!params) return [];
  let copy: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const v = params[i];
    if (typeof v === 'boolean') {
      copy ??= [...params];
      copy[i] = v ? 1 : 0;
    }
  }
  return copy ?? (params as unknown[]);
}

function toRunResult(r: Database.RunResult): RunResult {
  return { changes: r.changes, lastInsertRowid: r.lastInsertRowid };
}

/** Synchronous statement execution shared by the handle and its transactions. */
class SqliteExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  protected readonly raw: Database.Database;
  private readonly cache = new Map<string, Statement>();

  constructor(raw: Database.Database) {
    this.raw = raw;
  }

  protected prepare(sql: string): Statement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      if (this.cache.size >= STATEMENT_CACHE_LIMIT) this.cache.clear();
      stmt = this.raw.prepare(sql);
      this.cache.set(sql, stmt);
    }
    return stmt;
  }

  querySync<T>(sql: string, params?: SqlParams): T[] {
    return this.prepare(sql).all(...bind(params)) as T[];
  }

  getSync<T>(sql: string, params?: SqlParams): T | undefined {
    return this.prepare(sql).get(...bind(params)) as T | undefined;
  }

  runSync(sql: string, params?: SqlParams): RunResult {
    return toRunResult(this.prepare(sql).run(...bind(params)));
  }

  runManySync(sql: string, paramSets: readonly SqlParams[]): RunResult {
    const stmt = this.prepare(sql);
    let changes = 0;
    let last: number | bigint | undefined;
    for (const params of paramSets) {
      const r = stmt.run(...bind(params));
      changes += r.changes;
      last = r.lastInsertRowid;
    }
    return { changes, lastInsertRowid: last };
  }

  async query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.querySync<T>(sql, params);
  }
  async get<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return this.getSync<T>(sql, params);
  }
  async run(sql: string, params?: SqlParams): Promise<RunResult> {
    return this.runSync(sql, params);
  }
  async runMany(sql: string, paramSets: readonly SqlParams[]): Promise<RunResult> {
    return this.runManySync(sql, paramSets);
  }
  async exec(sql: string): Promise<void> {
    this.raw.exec(sql);
  }
}

/** A SQLite `Db`. `sqlite` exposes the raw better-sqlite3 handle for adapter-specific work. */
export class SqliteDb extends SqliteExecutor implements Db {
  /** Resolves when the running transaction (if any) has finished. */
  private current: Promise<void> | undefined;
  private tail: Promise<void> = Promise.resolve();
  private readonly tx: SqliteExecutor;
  private closed = false;

  constructor(raw: Database.Database) {
    super(raw);
    this.tx = new SqliteExecutor(raw);
  }

  get sqlite(): Database.Database {
    return this.raw;
  }

  private async idle(): Promise<void> {
    while (this.current) await this.current;
  }

  override async query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]> {
    if (this.current) await this.idle();
    return this.querySync<T>(sql, params);
  }
  override async get<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | undefined> {
    if (this.current) await this.idle();
    return this.getSync<T>(sql, params);
  }
  override async run(sql: string, params?: SqlParams): Promise<RunResult> {
    if (this.current) await this.idle();
    return this.runSync(sql, params);
  }
  override async runMany(sql: string, paramSets: readonly SqlParams[]): Promise<RunResult> {
    return this.transaction((tx) => tx.runMany(sql, paramSets));
  }
  override async exec(sql: string): Promise<void> {
    if (this.current) await this.idle();
    this.raw.exec(sql);
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.tail = previous.then(() => mine);
    await previous;
    await this.idle();
    this.current = mine;
    try {
      this.raw.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.tx);
        this.raw.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.current = undefined;
      release();
    }
  }

  async migrate(migrations: readonly Migration[]): Promise<string[]> {
    await this.exec('CREATE TABLE IF NOT EXISTS _migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
    return applyMigrations(this, migrations);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('database is closed');
    this.getSync('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.tail;
    this.closed = true;
    this.raw.close();
  }
}
