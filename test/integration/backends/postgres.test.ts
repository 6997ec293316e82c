/**
 * The PostgreSQL Db adapter against a real private PostgreSQL cluster: every service's migrations,
 * transactions with the outbox, the analytics upsert dialect, a killed connection → 503, and a
 * view batch whose COMMIT answer was lost stored once.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations as analyticsMigrations } from '../../../runtime/analytics/src/schema.ts';
import { migrations as authMigrations } from '../../../runtime/auth/src/migrations.ts';
import { migrations as contentMigrations } from '../../../runtime/content/src/migrations.ts';
import { ViewOutbox } from '../../../runtime/content/src/view-outbox.ts';
import { HttpError } from '../../../runtime/lib/http-errors.ts';
import { type Db, openDb } from '../../../runtime/lib/storage/db.ts';
import { enqueueOutbox, outboxMigration } from '../../../runtime/lib/storage/outbox.ts';
import { toPostgresDdl, toPostgresPlaceholders } from '../../../runtime/lib/storage/postgres.ts';
import { sleep } from '../../../src/core/sleep.ts';
import { startPgCuttingProxy } from '../../helpers/pg-cutting-proxy.ts';
import {
  createDatabase,
  type PostgresServer,
  postgresSkipReason,
  startPostgres,
} from '../../helpers/postgres.ts';

describe('placeholder and DDL translation', () => {
  it('numbers ? outside literals, comments and quoted identifiers', () => {
    expect(
      toPostgresPlaceholders("SELECT '?', \"a?\" FROM t WHERE x = ? AND y = 'it''s ?' AND z = ? -- ?\n"),
    ).toBe("SELECT '?', \"a?\" FROM t WHERE x = $1 AND y = 'it''s ?' AND z = $2 -- ?\n");
    expect(toPostgresPlaceholders('SELECT /* ? */ $$ ? $$, ?')).toBe('SELECT /* ? */ $$ ? $$, $1');
  });
  it('numbers exactly the bare placeholders and leaves every literal intact (property)', () => {
    const word = fc.stringMatching(/^[a-z0-9 ,()=<>*.]{0,8}$/);
    const literal = fc
      .array(fc.constantFrom('a', '?', "''", ' ', '$', '-'), { maxLength: 6 })
      .map((parts) => `'${parts.join('')}'`);
    const segment = fc.oneof(
      word.map((w) => ({ text: w, bare: 0 })),
      fc.constant({ text: '?', bare: 1 }),
      literal.map((l) => ({ text: l, bare: 0 })),
      literal.map((l) => ({ text: `"${l.slice(1, -1).replaceAll("''", '')}"`, bare: 0 })),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 20 }), (segments) => {
        const sql = segments.map((x) => x.text).join(' ');
        const bare = segments.reduce((n, x) => n + x.bare, 0);
        const out = toPostgresPlaceholders(sql);
        const numbers = [...out.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
        expect(numbers).toEqual(Array.from({ length: bare }, (_, i) => i + 1));
        expect(out.replace(/\$\d+/g, '?')).toBe(sql);
      }),
      { numRuns: 300 },
    );
  });

  it('maps SQLite DDL words', () => {
    expect(
      toPostgresDdl(
        'CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, b BLOB, n INTEGER) WITHOUT ROWID;',
      ),
    ).toBe('CREATE TABLE t (seq BIGSERIAL PRIMARY KEY, b BYTEA, n BIGINT);');
  });
});

const skip = postgresSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip)('PostgreSQL Db (real server)', () => {
  let server: PostgresServer;
  let db: Db;

  beforeAll(async () => {
    server = await startPostgres();
    db = await openDb(`${createDatabase(server, 'svc')}?pool_max=4`);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    server?.stop();
  });

  it('runs every service migration once, even when two replicas start together', async () => {
    const all = [...authMigrations, ...contentMigrations, ...analyticsMigrations];
    const other = await openDb(server.url.replace(/\/postgres$/, '/svc'));
    const [a, b] = await Promise.all([db.migrate(all), other.migrate(all)]);
    await other.close();
    expect([...a, ...b].sort()).toEqual(all.map((m) => m.id).sort());
    expect(await db.migrate(all)).toEqual([]);
  });

  it('commits data with its outbox row and rolls both back on failure', async () => {
    await db.transaction(async (tx) => {
      await tx.run(
        'INSERT INTO content_items (id, owner_id, sha256, mime, kind, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ['c1', 'u1', 'h', 'image/png', 'image', 10, Date.now()],
      );
      await enqueueOutbox(tx, 'content.uploaded', { contentId: 'c1' });
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.run(
          'INSERT INTO content_items (id, owner_id, sha256, mime, kind, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          ['c2', 'u1', 'h', 'image/png', 'image', 10, Date.now()],
        );
        await enqueueOutbox(tx, 'content.uploaded', { contentId: 'c2' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await db.query('SELECT id FROM content_items')).toEqual([{ id: 'c1' }]);
    const outbox = await db.query<{ payload: string; created_at: number }>(
      'SELECT payload, created_at FROM outbox',
    );
    expect(outbox).toHaveLength(1);
    expect(typeof outbox[0]?.created_at).toBe('number');
  });

  it('speaks the analytics upsert dialect (ON CONFLICT … excluded, RETURNING, BYTEA)', async () => {
    // `seen` is keyed by (event time, id) since analytics-005, as the projector writes it.
    const ins = await db.query<{ id: string }>(
      'INSERT INTO seen (ts, id) VALUES (?, ?), (?, ?) ON CONFLICT (ts, id) DO NOTHING RETURNING id',
      [1, 'e1', 1, 'e2'],
    );
    expect(ins).toHaveLength(2);
    const again = await db.query(
      'INSERT INTO seen (ts, id) VALUES (?, ?) ON CONFLICT (ts, id) DO NOTHING RETURNING id',
      [1, 'e1'],
    );
    expect(again).toEqual([]);
    const upsert = `INSERT INTO item_totals (content_id, views, viewers, last_ts) VALUES (?, ?, ?, ?)
      ON CONFLICT (content_id) DO UPDATE SET views = item_totals.views + excluded.views, viewers = excluded.viewers`;
    await db.run(upsert, ['c1', 2, new Uint8Array([1, 2, 3]), Date.now()]);
    await db.run(upsert, ['c1', 3, new Uint8Array([4]), Date.now()]);
    const row = await db.get<{ views: number; viewers: Buffer }>(
      'SELECT views, viewers FROM item_totals WHERE content_id = ?',
      ['c1'],
    );
    expect(row?.views).toBe(5);
    expect([...(row?.viewers ?? [])]).toEqual([4]);
    const count = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM seen');
    expect(count?.n).toBe(2);
  });

  it('serialises transactions across handles like SQLite (no lost read-then-write update)', async () => {
    await db.exec('CREATE TABLE counter (id TEXT PRIMARY KEY, n INTEGER NOT NULL)');
    await db.run("INSERT INTO counter (id, n) VALUES ('c', 0)");
    const other = await openDb(server.url.replace(/\/postgres$/, '/svc'));
    const bump = (handle: Db) =>
      handle.transaction(async (tx) => {
        const row = await tx.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'");
        await sleep(2);
        await tx.run("UPDATE counter SET n = ? WHERE id = 'c'", [(row?.n ?? 0) + 1]);
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => bump(i % 2 ? db : other)));
    await other.close();
    expect((await db.get<{ n: number }>("SELECT n FROM counter WHERE id = 'c'"))?.n).toBe(20);
  });

  it('maps a unique violation to 409 and a killed connection to 503', async () => {
    const user = ['u1', 'a@example.com', 'x', 'user', 1, 1];
    const sql =
      'INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)';
    await db.run(sql, user);
    await expect(db.run(sql, user)).rejects.toMatchObject({ statusCode: 409 });

    const err = await db
      .transaction(async (tx) => {
        await tx.query('SELECT 1');
        server.psql(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'svc' AND pid <> pg_backend_pid()",
        );
        await tx.query('SELECT 1');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' });
    // The pool drops the dead connections and the next call reconnects.
    await db.ping();
  });

  it('survives a connection killed while a transaction holds it between statements', async () => {
    // The server's goodbye (57P01) reaches a client that is checked out but has no statement
    // running, as when PostgreSQL shuts down between two statements of a view batch. node-postgres
    // then emits 'error' on the client, which the pool does not listen to while it is lent out:
    // without a listener of the adapter's own that is an uncaught exception and the service dies.
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    process.prependListener('uncaughtException', onCrash);
    try {
      const err = await db
        .transaction(async (tx) => {
          await tx.query('SELECT 1');
          server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'svc' AND pid <> pg_backend_pid()",
          );
          await sleep(300);
          await tx.query('SELECT 1');
        })
        .catch((e: unknown) => e);
      expect(crashes).toEqual([]);
      expect(err).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' });
      await db.ping();
    } finally {
      process.off('uncaughtException', onCrash);
    }
  });

  it('stores a view batch whose COMMIT answer was lost once, under the ids the views were recorded with', async () => {
    // The COMMIT reaches the server and commits; the connection is cut before its answer arrives,
    // so the content service sees a 503 and writes the batch again.
    const proxy = await startPgCuttingProxy(server.port);
    const direct = await openDb(createDatabase(server, 'views'));
    await direct.migrate([outboxMigration]);
    const viaProxy = await openDb(`postgres://postgres@127.0.0.1:${proxy.port}/views?pool_max=2`);
    const errors: unknown[] = [];
    const outbox = new ViewOutbox(viaProxy, { flushMs: 1, retryMs: 5, onError: (e) => errors.push(e) });
    try {
      proxy.loseNextCommitAnswer();
      const recorded = Array.from({ length: 5 }, (_, i) =>
        outbox.record({ type: 'view', contentId: `c${i}`, userId: 'u', ts: i, traceparent: undefined }),
      );
      await outbox.flush();
      expect(proxy.lostCommits).toBe(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE' });
      const ids = async () =>
        (await direct.query<{ id: string }>('SELECT id FROM outbox ORDER BY seq')).map((r) => r.id);
      const committed = await ids();
      expect(committed).toHaveLength(5);
      for (let i = 0; i < 300 && outbox.buffered > 0; i++) await sleep(10);
      expect(outbox.buffered).toBe(0);
      expect(await ids()).toEqual(committed);
      expect(recorded.map((v) => v.id)).toEqual(committed);
    } finally {
      await outbox.close();
      await viaProxy.close();
      await direct.close();
      await proxy.close();
    }
  });

  it('answers 503 when the server is unreachable', async () => {
    const dead = await openDb('postgres://postgres@127.0.0.1:1/none?connect_timeout_ms=500');
    await expect(dead.ping()).rejects.toMatchObject({ statusCode: 503 });
    await dead.close();
  });
});
