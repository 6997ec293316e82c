/**
 * PostgreSQL adapter for `Db` (node-postgres Pool). Services keep writing the portable SQL they
 * write for SQLite: `?` placeholders become `$1..$n`, and migration DDL written in SQLite's
 * vocabulary (`BLOB`, `INTEGER PRIMARY KEY AUTOINCREMENT`, `WITHOUT ROWID`, 32-bit `INTEGER`
 * holding epoch ms) is translated here, so a service has one schema for both engines.
 *
 * URL: `postgres://user:pass@host:port/db?pool_max=10&idle_timeout_ms=30000&connect_timeout_ms=5000&statement_timeout_ms=0&serialize=on`
 * (the password may also come from `PGPASSWORD`). An unreachable server or a killed connection
 * surfaces as `HttpError(503, 'DATABASE_UNAVAILABLE')`, so requests answer 503 and `/readyz`
 * reports the database as down instead of a generic 500.
 *
 * Transactions run on one dedicated pooled client and, like SQLite's BEGIN IMMEDIATE (the `Db`
 * contract), are serialised: each takes one transaction-scoped advisory lock of the database
 * first, so read-then-write steps (key rotation, "last copy?" checks) behave the same across
 * replicas. `?serialize=off` drops the lock for throughput (plain READ COMMITTED; then only unique
 * keys and conditional updates protect invariants). A unique violation maps to 409 CONFLICT.
 */
import pg from 'pg';
import { dependencyUnavailable, HttpError } from '../http-errors.ts';
import {
  applyMigrations,
  type Db,
  type Migration,
  type RunResult,
  type SqlExecutor,
  type SqlParams,
  type Tx,
} from './db.ts';

export interface PostgresOptions {
  max?: number;
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** Serialise transactions with an advisory lock (default true). */
  serialize?: boolean;
}

const POOL_PARAMS = [
  'pool_max',
  'idle_timeout_ms',
  'connect_timeout_ms',
  'statement_timeout_ms',
  'serialize',
] as const;

/** Splits our pool parameters off the URL; the rest is node-postgres's connection string. */
export function parsePostgresUrl(url: string): { connectionString: string; options: PostgresOptions } {
  const parsed = new URL(url.replace(/^postgresql:/, 'postgres:'));
  const num = (name: string): number | undefined => {
    const raw = parsed.searchParams.get(name);
    if (raw === null) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`DATABASE_URL parameter ${name} must be a whole number`);
    return n;
  };
  const options: PostgresOptions = {
    max: num('pool_max'),
    idleTimeoutMs: num('idle_timeout_ms'),
    connectTimeoutMs: num('connect_timeout_ms'),
    statementTimeoutMs: num('statement_timeout_ms'),
    serialize: parsed.searchParams.get('serialize') !== 'off',
  };
  for (const p of POOL_PARAMS) parsed.searchParams.delete(p);
  return { connectionString: parsed.toString(), options };
}

/** A URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** The database-wide writer lock every serialised transaction takes first (released at commit). */
const TX_LOCK = "SELECT pg_advisory_xact_lock(hashtext('platformctl:transaction'))";

const translated = new Map<string, string>();

/**
 * `?` → `$n`, skipping string literals, quoted identifiers, comments and dollar-quoted bodies, so
 * a `?` inside `'what?'` stays a character. Cached: services reuse a small set of statements.
 */
export function toPostgresPlaceholders(sql: string): string {
  const hit = translated.get(sql);
  if (hit !== undefined) return hit;
  let out = '';
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (c === "'" || c === '"') {
      const end = closingQuote(sql, i, c);
      out += sql.slice(i, end);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      const end = nl === -1 ? sql.length : nl;
      out += sql.slice(i, end);
      i = end;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      const end = close === -1 ? sql.length : close + 2;
      out += sql.slice(i, end);
      i = end;
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(sql.slice(i))) {
      const tag = (sql.slice(i).match(/^\$[A-Za-z_]*\$/) as RegExpMatchArray)[0];
      const close = sql.indexOf(tag, i + tag.length);
      const end = close === -1 ? sql.length : close + tag.length;
      out += sql.slice(i, end);
      i = end;
    } else if (c === '?') {
      n += 1;
      out += `$${n}`;
      i += 1;
    } else {
      out += c;
      i += 1;
    }
  }
  if (translated.size > 1024) translated.clear();
  translated.set(sql, out);
  return out;
}

/** Index just past the quote closing the literal opened at `start` (doubled quotes escape). */
function closingQuote(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

/**
 * SQLite-flavoured DDL → PostgreSQL. Timestamps are epoch ms in `INTEGER` columns, which
 * overflow PostgreSQL's 32-bit integer, so every INTEGER becomes BIGINT.
 */
export function toPostgresDdl(sql: string): string {
  return sql
    .replace(/\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b/gi, 'BIGSERIAL PRIMARY KEY')
    .replace(/\)\s*WITHOUT\s+ROWID\b/gi, ')')
    .replace(/\bBLOB\b/gi, 'BYTEA')
    .replace(/\bINTEGER\b/gi, 'BIGINT');
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EPIPE',
  'EHOSTUNREACH',
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up / shutting down)
  '53300', // too_many_connections
]);

/** True for errors meaning "the database cannot be reached", as opposed to a bad statement. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|terminating connection/i.test(
    err.message,
  );
}

/** Maps driver errors onto the service kit's HTTP errors where the meaning is clear. */
function mapError(err: unknown): unknown {
  if (err instanceof HttpError) return err;
  if (isConnectionError(err)) return unavailable(err);
  if ((err as { code?: string }).code === '23505') {
    return new HttpError(409, 'CONFLICT', 'a record with the same key already exists', { cause: err });
  }
  return err;
}

function unavailable(cause: unknown): HttpError {
  if (cause instanceof HttpError) return cause;
  return dependencyUnavailable(
    'DATABASE_UNAVAILABLE',
    'database',
    'the database is unavailable; retry shortly',
    cause,
  );
}

/** pg returns BIGINT/NUMERIC as strings to avoid precision loss; our values (ms, counts) fit a double. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

function bind(params: SqlParams | undefined): unknown[] {
  if (!params) return [];
  // Booleans as 1/0 like SQLite: the portable schemas store flags in INTEGER columns.
  return params.map((v) =>
    typeof v === 'boolean'
      ? v
        ? 1
        : 0
      : v instanceof Uint8Array && !Buffer.isBuffer(v)
        ? Buffer.from(v)
        : v,
  );
}

interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

class PostgresExecutor implements SqlExecutor {
  readonly dialect = 'postgres' as const;
  protected readonly target: Queryable;

  constructor(target: Queryable) {
    this.target = target;
  }

  protected async raw(sql: string, params?: SqlParams): Promise<pg.QueryResult> {
    try {
      return await this.target.query(toPostgresPlaceholders(sql), bind(params));
    } catch (err) {
      throw mapError(err);
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T[]> {
    return (await this.raw(sql, params)).rows as T[];
  }
  async get<T = Record<string, unknown>>(sql: string, params?: SqlParams): Promise<T | undefined> {
    return (await this.raw(sql, params)).rows[0] as T | undefined;
  }
  async run(sql: string, params?: SqlParams): Promise<RunResult> {
    const r = await this.raw(sql, params);
    return { changes: r.rowCount ?? 0 };
  }
  async runMany(sql: string, paramSets: readonly SqlParams[]): Promise<RunResult> {
    let changes = 0;
    for (const params of paramSets) changes += (await this.run(sql, params)).changes;
    return { changes };
  }
  async exec(sql: string): Promise<void> {
    try {
      await this.target.query(toPostgresDdl(sql));
    } catch (err) {
      throw mapError(err);
    }
  }
}

export class PostgresDb extends PostgresExecutor implements Db {
  readonly pool: pg.Pool;
  readonly serialize: boolean;
  private closed = false;

  /** Every pooled connection may be dead after a server restart; one more for a fresh connect. */
  private get staleRetries(): number {
    return (this.pool.options.max ?? 10) + 1;
  }

  constructor(pool: pg.Pool, serialize = true) {
    super(pool);
    this.pool = pool;
    this.serialize = serialize;
  }

  /** A pooled client; failing to get one (refused, not accepting connections…) is a 503. */
  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (err) {
      throw unavailable(err);
    }
  }

  /**
   * One statement outside a transaction. A pooled connection can be dead before the pool notices
   * (server restarted, `pg_terminate_backend`): a connection error is retried on another
   * connection — at most once per pooled connection, each failure discarding one dead client — so
   * only a database that is really down answers 503 (a refused connect fails at once).
   */
  private async single(text: string, values?: unknown[]): Promise<pg.QueryResult> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      let broken: Error | undefined;
      try {
        return await client.query(text, values);
      } catch (err) {
        if (!isConnectionError(err)) throw mapError(err);
        broken = err as Error;
        if (attempt >= this.staleRetries) throw mapError(err);
      } finally {
        client.release(broken);
      }
    }
  }

  protected override async raw(sql: string, params?: SqlParams): Promise<pg.QueryResult> {
    return this.single(toPostgresPlaceholders(sql), bind(params));
  }

  override async exec(sql: string): Promise<void> {
    await this.single(toPostgresDdl(sql));
  }

  override async runMany(sql: string, paramSets: readonly SqlParams[]): Promise<RunResult> {
    if (paramSets.length === 0) return { changes: 0 };
    return this.transaction((tx) => tx.runMany(sql, paramSets));
  }

  /** A client with an open transaction; dead pooled connections are replaced (nothing ran yet). */
  private async begin(): Promise<pg.PoolClient> {
    for (let attempt = 0; ; attempt++) {
      const client = await this.connect();
      try {
        await client.query('BEGIN');
        return client;
      } catch (err) {
        client.release(err as Error);
        if (!isConnectionError(err) || attempt >= this.staleRetries) throw mapError(err);
      }
    }
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T> | T): Promise<T> {
    const client = await this.begin();
    let broken: Error | undefined;
    try {
      if (this.serialize) await client.query(TX_LOCK);
      const result = await fn(new PostgresExecutor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isConnectionError(err) || isConnectionError((err as { cause?: unknown }).cause)) {
        broken = err as Error;
      } else {
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e as Error;
        });
      }
      throw mapError(err);
    } finally {
      // A client whose connection died is destroyed rather than handed to the next caller.
      client.release(broken ?? undefined);
    }
  }

  async migrate(migrations: readonly Migration[]): Promise<string[]> {
    const lock = "SELECT pg_advisory_xact_lock(hashtext('platformctl:_migrations'))";
    // CREATE TABLE IF NOT EXISTS races with itself across sessions: take the lock first.
    await this.transaction(async (tx) => {
      await tx.query(lock);
      await tx.exec('CREATE TABLE IF NOT EXISTS _migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
    });
    // Several replicas may start at once: one migrates, the others wait and then skip.
    return applyMigrations(this, migrations, async (tx) => {
      await tx.query(lock);
    });
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('database is closed');
    await this.raw('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Opens a pool; the first connection is made lazily (by `migrate` or `ping`). */
export function openPostgres(url: string, overrides: PostgresOptions = {}): PostgresDb {
  const { connectionString, options } = parsePostgresUrl(url);
  const o = {
    ...options,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
  const pool = new pg.Pool({
    connectionString,
    max: o.max ?? 10,
    idleTimeoutMillis: o.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5_000,
    ...(o.statementTimeoutMs ? { statement_timeout: o.statementTimeoutMs } : {}),
    types,
  });
  // An idle client whose backend is killed emits 'error' on the pool; without a listener that
  // would crash the process. The pool discards the client; the next query reconnects.
  pool.on('error', () => {});
  // The pool listens only while a client is idle. A lent-out client whose connection dies between
  // two statements (a transaction awaiting its next one, or the server's goodbye arriving in the
  // same packet as the last statement's answer during a restart) emits 'error' with nobody
  // listening: an uncaught exception that killed the service. Nothing more is needed here: the
  // client is no longer queryable, so its next statement fails as a connection error (503), and
  // the client is released as broken and discarded.
  pool.on('connect', (client) => client.on('error', () => {}));
  return new PostgresDb(pool, o.serialize ?? true);
}
