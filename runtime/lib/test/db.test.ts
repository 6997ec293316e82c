import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Db, openDb, type Tx } from '../storage/db.ts';

let dir: string;
let db: Db;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lib-db-'));
  db = await openDb(`sqlite://${join(dir, 'test.db')}`);
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const migrations = [
  { id: '001-items', up: 'CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL)' },
  {
    id: '002-seed',
    up: async (tx: Tx) => {
      await tx.run('INSERT INTO items (id, n) VALUES (?, ?)', ['seed', 1]);
    },
  },
];

describe('sqlite Db', () => {
  it('applies migrations once and records them', async () => {
    expect(await db.migrate(migrations)).toEqual(['001-items', '002-seed']);
    expect(await db.migrate(migrations)).toEqual([]);
    expect(await db.query('SELECT id, n FROM items')).toEqual([{ id: 'seed', n: 1 }]);
    const reopened = await openDb(`sqlite://${join(dir, 'test.db')}`);
    expect(await reopened.migrate(migrations)).toEqual([]);
    await reopened.close();
  });

  it('commits a transaction and rolls back a failed one', async () => {
    await db.migrate(migrations);
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO items (id, n) VALUES (?, ?)', ['a', 1]);
      await tx.runMany('INSERT INTO items (id, n) VALUES (?, ?)', [
        ['b', 2],
        ['c', true],
      ]);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO items (id, n) VALUES (?, ?)', ['d', 4]);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const rows = await db.query<{ id: string; n: number }>('SELECT id, n FROM items ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['a', 'b', 'c', 'seed']);
    expect(rows.find((r) => r.id === 'c')?.n).toBe(1);
  });

  it('keeps statements outside a transaction from interleaving with it', async () => {
    await db.migrate(migrations);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const tx = db.transaction(async (t) => {
      await t.run('INSERT INTO items (id, n) VALUES (?, ?)', ['in-tx', 1]);
      await gate;
      throw new Error('rollback');
    });
    // This read must wait until the transaction ends, so it never sees the uncommitted row.
    const read = db.query('SELECT id FROM items WHERE id = ?', ['in-tx']);
    const second = db.transaction((t) => t.run('INSERT INTO items (id, n) VALUES (?, ?)', ['after', 2]));
    release();
    await expect(tx).rejects.toThrow('rollback');
    expect(await read).toEqual([]);
    await second;
    expect(await db.get('SELECT n FROM items WHERE id = ?', ['after'])).toEqual({ n: 2 });
  });

  it('gives a new database the page size asked for, and leaves an existing one as it is', async () => {
    const url = `sqlite://${join(dir, 'paged.db')}`;
    const created = await openDb(url, { pageSize: 16384 });
    await created.migrate(migrations);
    expect(await created.get('PRAGMA page_size')).toEqual({ page_size: 16384 });
    await created.close();
    const reopened = await openDb(url, { pageSize: 8192 });
    expect(await reopened.get('PRAGMA page_size')).toEqual({ page_size: 16384 });
    expect(await reopened.get('SELECT n FROM items')).toEqual({ n: 1 });
    await reopened.close();
    // The default is SQLite's own.
    expect(await db.get('PRAGMA page_size')).toEqual({ page_size: 4096 });
  });

  it('rejects unknown URL schemes with a clear message', async () => {
    await expect(openDb('mysql://x')).rejects.toThrow(/unsupported scheme/);
  });
});
