/**
 * Moves a service's data from SQLite to PostgreSQL (`platformctl db copy`): the target is migrated
 * with the service's own migrations first, then every table of the source (except bookkeeping) is
 * copied in batches with `INSERT … ON CONFLICT DO NOTHING`, so a copy can be interrupted and run
 * again (rows already there are skipped), and serial counters are advanced past the copied ids.
 * Run it while the service is stopped (or read-only): rows written during the copy may be missed.
 */
import { type Db, type Migration, openDb } from '../../runtime/lib/storage/db.ts';
import { UsageError } from '../core/errors.ts';
import { redact as redactUrl } from './service-databases.ts';

export interface CopyOptions {
  from: string;
  to: string;
  migrations: readonly Migration[];
  batchSize?: number;
  onProgress?: (p: { table: string; read: number; inserted: number }) => void;
}

export interface TableCopy {
  table: string;
  read: number;
  inserted: number;
}

export interface CopyReport {
  migrationsApplied: string[];
  tables: TableCopy[];
}

const SKIP = /^(sqlite_|_migrations$)/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`unexpected table or column name ${JSON.stringify(name)}`);
  return `"${name}"`;
}

export async function copyDatabase(options: CopyOptions): Promise<CopyReport> {
  // Flags a user typed: a wrong one is their mistake to fix (exit 2), not a bug in platformctl.
  if (!options.from.startsWith('sqlite:'))
    throw new UsageError(
      `--from must be a sqlite:// URL (got "${redactUrl(options.from)}")`,
      'e.g. --from sqlite://.platform/data/content/content.db',
      'DB_URL_INVALID',
    );
  if (!/^postgres(ql)?:/.test(options.to))
    throw new UsageError(
      `--to must be a postgres:// URL (got "${redactUrl(options.to)}")`,
      'e.g. --to postgres://user@db.example.com:5432/content',
      'DB_URL_INVALID',
    );
  const batchSize = options.batchSize ?? 500;
  const source = await openDb(options.from);
  let target: Db | undefined;
  try {
    target = await openDb(options.to);
    const migrationsApplied = await target.migrate(options.migrations);
    const tables = (
      await source.query<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
      )
    )
      .map((r) => r.name)
      .filter((n) => !SKIP.test(n));
    const report: TableCopy[] = [];
    for (const table of tables) {
      report.push(await copyTable(source, target, table, batchSize, options.onProgress));
    }
    return { migrationsApplied, tables: report };
  } finally {
    await source.close();
    await target?.close();
  }
}

async function copyTable(
  source: Db,
  target: Db,
  table: string,
  batchSize: number,
  onProgress: CopyOptions['onProgress'],
): Promise<TableCopy> {
  const info = await source.query<{ name: string; pk: number; type: string }>(
    `PRAGMA table_info(${ident(table)})`,
  );
  const columns = info.map((c) => c.name);
  const pk = info
    .filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk)
    .map((c) => c.name);
  const order = (pk.length > 0 ? pk : columns).map(ident).join(', ');
  const cols = columns.map(ident).join(', ');
  const insert = `INSERT INTO ${ident(table)} (${cols}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;
  let read = 0;
  let inserted = 0;
  for (let offset = 0; ; offset += batchSize) {
    const rows = await source.query<Record<string, unknown>>(
      `SELECT ${cols} FROM ${ident(table)} ORDER BY ${order} LIMIT ? OFFSET ?`,
      [batchSize, offset],
    );
    if (rows.length === 0) break;
    const params = rows.map((r) => columns.map((c) => r[c] as never));
    const result = await target.runMany(insert, params);
    read += rows.length;
    inserted += result.changes;
    onProgress?.({ table, read, inserted });
    if (rows.length < batchSize) break;
  }
  // Serial columns (SQLite AUTOINCREMENT → BIGSERIAL) continue after the copied ids.
  const serial = info.find((c) => c.pk === 1 && /INT/i.test(c.type) && pk.length === 1);
  if (serial) {
    await target.query(
      `SELECT setval(pg_get_serial_sequence(?, ?), GREATEST((SELECT COALESCE(MAX(${ident(serial.name)}), 0) FROM ${ident(table)}), 1))`,
      [table, serial.name],
    );
  }
  return { table, read, inserted };
}
