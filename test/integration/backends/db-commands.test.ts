/**
 * `platformctl db migrate` and `platformctl db copy` as a user runs them, against a real private
 * PostgreSQL: SQLite data of the content service moves to PostgreSQL, a second copy inserts
 * nothing (idempotent), serial counters continue after the copied ids, passwords in flags are refused.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations as contentMigrations } from '../../../runtime/content/src/migrations.ts';
import { openDb } from '../../../runtime/lib/storage/db.ts';
import { enqueueOutbox } from '../../../runtime/lib/storage/outbox.ts';
import { sleep } from '../../../src/core/sleep.ts';
import { runCli, workspace } from '../../helpers/cli.ts';
import { startPgCuttingProxy } from '../../helpers/pg-cutting-proxy.ts';
import {
  createDatabase,
  type PostgresServer,
  postgresSkipReason,
  startPostgres,
} from '../../helpers/postgres.ts';

const skip = postgresSkipReason();
if (skip) console.warn(skip);

const YAML = `apiVersion: platformctl/v1
name: dbtest
environments:
  local: { cloud: aws, region: eu-west-1, provider: local }
  prod: { cloud: aws, region: eu-west-1, provider: local, backends: { database: postgres } }
services:
  content: { path: "builtin:content", port: 18080, routes: [/content] }
`;

describe.skipIf(skip)('db commands (real PostgreSQL)', () => {
  let server: PostgresServer;
  let ws: ReturnType<typeof workspace>;
  let serverUrl: string;

  beforeAll(async () => {
    server = await startPostgres();
    serverUrl = server.url;
    ws = workspace({ 'platform.yaml': YAML });
    // The local content database with a few rows, as the local provider would leave it.
    mkdirSync(join(ws.dir, '.platform', 'data', 'content'), { recursive: true });
    const sqlite = await openDb(`sqlite://${join(ws.dir, '.platform', 'data', 'content', 'content.db')}`);
    await sqlite.migrate(contentMigrations);
    await sqlite.transaction(async (tx) => {
      for (let i = 0; i < 7; i++) {
        await tx.run(
          'INSERT INTO content_items (id, owner_id, sha256, mime, kind, size, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [`c${i}`, 'u1', `h${i}`, 'image/png', 'image', 100 + i, Date.now()],
        );
        await enqueueOutbox(tx, 'content.uploaded', { contentId: `c${i}` });
      }
    });
    await sqlite.close();
  }, 120_000);

  afterAll(() => {
    ws?.dispose();
    server?.stop();
  });

  it('migrates every service database of an environment', async () => {
    for (const name of ['auth', 'content', 'analytics']) createDatabase(server, name);
    const env = { PLATFORMCTL_POSTGRES_URL: serverUrl };
    const dry = await runCli(['db', 'migrate', '--env', 'prod', '--dry-run', '--json'], { cwd: ws.dir, env });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(server.psql("SELECT count(*) FROM pg_tables WHERE tablename = '_migrations'", 'auth').trim()).toBe(
      '0',
    );
    const r = await runCli(['db', 'migrate', '--env', 'prod', '--json'], { cwd: ws.dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { services: { service: string; applied: string[] }[] };
    expect(out.services.map((s) => s.service)).toEqual(['auth', 'content', 'analytics']);
    expect(out.services.every((s) => s.applied.length > 0)).toBe(true);
    const again = JSON.parse(
      (await runCli(['db', 'migrate', '--env', 'prod', '--json'], { cwd: ws.dir, env })).stdout,
    );
    expect(again.services.every((s: { applied: string[] }) => s.applied.length === 0)).toBe(true);
  });

  it('creates a missing service database, or says exactly which SQL to run when it may not', async () => {
    const base = serverUrl.replace(/\/postgres$/, '');
    const created = await runCli(['db', 'migrate', '--env', 'prod', '--service', 'auth', '--json'], {
      cwd: ws.dir,
      env: { AUTH_DATABASE_URL: `${base}/auth_fresh` },
    });
    expect(created.exitCode, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout).services[0]).toMatchObject({ database: 'created' });
    expect(server.psql("SELECT count(*) FROM pg_database WHERE datname = 'auth_fresh'").trim()).toBe('1');

    server.psql('CREATE ROLE app LOGIN');
    const denied = await runCli(['db', 'migrate', '--env', 'prod', '--service', 'content'], {
      cwd: ws.dir,
      env: { CONTENT_DATABASE_URL: `${base.replace('postgres@', 'app@')}/content_denied` },
    });
    expect(denied.exitCode).toBe(1);
    expect(denied.stderr).toMatch(/database "content_denied" does not exist .* may not create it/);
    expect(denied.stderr).toContain('CREATE DATABASE "content_denied";');
    expect(denied.stderr).not.toMatch(/bug/i);

    const unreachable = await runCli(['db', 'migrate', '--env', 'prod', '--service', 'content'], {
      cwd: ws.dir,
      env: { CONTENT_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/content' },
    });
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot connect to PostgreSQL at 127\.0\.0\.1:1/);
    expect(unreachable.stderr).not.toMatch(/bug|retry shortly/i);
  }, 60_000);

  /**
   * Runs `db migrate` for a database that does not exist yet and, while the CLI's CREATE DATABASE
   * runs, ends its session with `fault`. CREATE DATABASE waits (up to 5 s) while anyone is
   * connected to its template: the window in which the session is ended mid-statement.
   */
  async function migrateAndEndSession(database: string, port: number, fault: () => void) {
    const base = serverUrl.replace(/\/postgres$/, '');
    const holder = new pg.Client({ connectionString: `${base}/template1` });
    await holder.connect();
    try {
      const cli = runCli(['db', 'migrate', '--env', 'prod', '--service', 'auth'], {
        cwd: ws.dir,
        env: { AUTH_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/${database}` },
      });
      let running = '0';
      for (let i = 0; i < 200 && running === '0'; i++) {
        running = server
          .psql(`SELECT count(*) FROM pg_stat_activity WHERE query = 'CREATE DATABASE "${database}";'`)
          .trim();
        if (running === '0') await sleep(25);
      }
      expect(running).toBe('1');
      fault();
      return await cli;
    } finally {
      await holder.end();
    }
  }

  it('reports a session the server terminates mid-statement as an error with a hint', async () => {
    const r = await migrateAndEndSession('auth_terminated', server.port, () => {
      server.psql(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'CREATE DATABASE%'`,
      );
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /lost the connection to PostgreSQL at 127\.0\.0\.1:\d+: terminating connection due to administrator command/,
    );
    expect(r.stderr).toMatch(/hint: .*run the command again/);
    expect(r.stderr).not.toMatch(/bug|\n\s+at /i);
  }, 60_000);

  it('reports a connection cut mid-statement as an error with a hint, not a crash', async () => {
    // Cut without the server's goodbye: node-postgres emits 'error' on the client at once.
    const proxy = await startPgCuttingProxy(server.port);
    try {
      const r = await migrateAndEndSession('auth_cut', proxy.port, () => {
        expect(proxy.cut()).toBe(1);
      });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(
        /lost the connection to PostgreSQL at 127\.0\.0\.1:\d+: Connection terminated unexpectedly/,
      );
      expect(r.stderr).toMatch(/hint: .*run the command again/);
      expect(r.stderr).not.toMatch(/bug|\n\s+at /i);
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('copies SQLite data to PostgreSQL idempotently', async () => {
    const target = `${serverUrl.replace(/\/postgres$/, '')}/content`;
    const first = await runCli(
      ['db', 'copy', '--service', 'content', '--to', target, '--batch', '3', '--json'],
      {
        cwd: ws.dir,
      },
    );
    expect(first.exitCode, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as {
      tables: { table: string; read: number; inserted: number }[];
    };
    expect(report.tables.find((t) => t.table === 'content_items')).toEqual({
      table: 'content_items',
      read: 7,
      inserted: 7,
    });
    expect(report.tables.find((t) => t.table === 'outbox')?.inserted).toBe(7);

    const second = JSON.parse(
      (await runCli(['db', 'copy', '--service', 'content', '--to', target, '--json'], { cwd: ws.dir }))
        .stdout,
    ) as { tables: { inserted: number }[] };
    expect(second.tables.every((t) => t.inserted === 0)).toBe(true);
    expect(server.psql('SELECT count(*), sum(size) FROM content_items', 'content').trim()).toBe('7|721');
    // The outbox's serial continues after the copied rows.
    const pg = await openDb(target);
    await pg.transaction((tx) => enqueueOutbox(tx, 'content.uploaded', { contentId: 'new' }));
    expect(
      (await pg.get<{ seq: number }>('SELECT seq FROM outbox WHERE payload LIKE \'%"new"%\''))?.seq,
    ).toBe(8);
    await pg.close();
  });

  it('refuses a password in a flag', async () => {
    const r = await runCli(
      ['db', 'copy', '--service', 'content', '--to', 'postgres://app:secret@127.0.0.1/content'],
      {
        cwd: ws.dir,
      },
    );
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('PGPASSWORD');
    expect(r.stderr).not.toContain('secret');
  });
});
