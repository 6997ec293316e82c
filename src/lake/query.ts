/**
 * SQL over the lake with DuckDB. The events table is a view over the Hive-partitioned Parquet
 * parts, typed by `lake/events.schema.json`; a lake in S3 is first mirrored part by part into a
 * local cache (only new or changed parts are fetched), because DuckDB's own S3 support is an
 * extension it downloads at run time, which offline and locked-down machines cannot do.
 */

import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { lakeSchema } from '../../runtime/analytics/src/lake-schema.ts';
import { PlatformError, UsageError } from '../core/errors.ts';

/** A query's answer: column names in order and rows as plain JSON values. */
export interface QueryResult {
  columns: string[];
  rows: Record<string, string | number | boolean | null>[];
}

/** The saved queries shipped with platformctl (`runtime/analytics/lake/queries/<name>.sql`). */
export const SAVED_QUERIES_DIR = new URL('../../runtime/analytics/lake/queries/', import.meta.url);

/** Names of the saved queries. */
export function savedQueries(): string[] {
  return readdirSync(SAVED_QUERIES_DIR)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** The SQL of a saved query, or a usage error listing the names. */
export function savedQuery(name: string): string {
  if (!savedQueries().includes(name))
    throw new UsageError(
      `no saved query "${name}"`,
      `saved queries: ${savedQueries().join(', ')}`,
      'LAKE_QUERY_UNKNOWN',
    );
  return readFileSync(new URL(`${name}.sql`, SAVED_QUERIES_DIR), 'utf8');
}

/** A local directory holding the lake: the lake itself, or a mirror of an S3 lake in `cacheDir`. */
export async function localLake(
  url: string,
  cacheDir: string,
  onProgress?: (m: string) => void,
): Promise<string> {
  if (url.startsWith('file://')) return url.slice('file://'.length).replace(/\?.*$/, '');
  const { openBlobs } = await import('../../runtime/lib/storage/blobs.ts');
  const blobs = await openBlobs(url);
  const dir = join(
    cacheDir,
    createHash('sha256').update(url.replace(/\?.*$/, '')).digest('hex').slice(0, 16),
  );
  const table = lakeSchema().table;
  const listed = (await blobs.list(`${table}/`)).filter((b) => b.key.endsWith('.parquet'));
  let fetched = 0;
  // Parts a re-export removed from the lake must leave the mirror too.
  const wanted = new Set(listed.map((b) => join(dir, b.key)));
  for (const d of existsSync(join(dir, table)) ? readdirSync(join(dir, table)) : [])
    for (const f of readdirSync(join(dir, table, d)))
      if (!wanted.has(join(dir, table, d, f))) rmSync(join(dir, table, d, f), { force: true });
  for (const blob of listed) {
    const file = join(dir, blob.key);
    if (existsSync(file) && statSync(file).size === blob.size) continue;
    const read = await blobs.get(blob.key);
    if (!read) continue; // removed since the listing (a re-export in progress); the next query fetches it
    mkdirSync(dirname(file), { recursive: true });
    // Written beside and renamed, so an interrupted fetch never leaves a truncated part behind.
    await pipeline(read.stream, createWriteStream(`${file}.partial`));
    renameSync(`${file}.partial`, file);
    onProgress?.(`fetched ${++fetched} new part(s) of ${listed.length}`);
  }
  return dir;
}

/**
 * One value as plain JSON: numbers and booleans as such (counts come back as BIGINT: numbers when
 * they fit, else strings), everything else in DuckDB's own text form (dates as YYYY-MM-DD,
 * timestamps as `YYYY-MM-DD hh:mm:ss`), which is what a CSV or a person expects.
 */
function plain(js: unknown, text: unknown): string | number | boolean | null {
  if (js === null || js === undefined) return null;
  if (typeof js === 'bigint') return Number.isSafeInteger(Number(js)) ? Number(js) : js.toString();
  if (typeof js === 'number' || typeof js === 'boolean') return js;
  return typeof text === 'string' ? text : JSON.stringify(text);
}

/**
 * Runs `sql` with an `events` view over the lake in `dir`. Only the lake's directory is readable
 * from SQL and nothing can be written, so a query cannot touch other files.
 */
export async function queryLake(dir: string, sql: string): Promise<QueryResult> {
  const { table, columns } = lakeSchema();
  const glob = join(dir, table, 'dt=*', '*.parquet');
  const parts = existsSync(join(dir, table))
    ? readdirSync(join(dir, table)).filter((d) => d.startsWith('dt='))
    : [];
  if (parts.length === 0)
    throw new PlatformError('LAKE_EMPTY', `the lake at ${dir} has no ${table} partitions`, {
      hint: 'export days into it first: platformctl analytics export --date YYYY-MM-DD',
    });
  const duck = await import('@duckdb/node-api');
  const instance = await duck.DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    const names = columns.map((c) => c.name).join(', ');
    await conn.run(
      `CREATE VIEW ${table} AS SELECT ${names}, dt FROM read_parquet('${glob.replace(/'/g, "''")}', hive_partitioning = true, hive_types = {'dt': DATE}, union_by_name = true)`,
    );
    await conn.run(`SET allowed_directories = ['${dir.replace(/'/g, "''")}']`);
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
    let reader: Awaited<ReturnType<typeof conn.runAndReadAll>>;
    try {
      reader = await conn.runAndReadAll(sql);
    } catch (err) {
      throw new UsageError(
        `the query failed: ${(err as Error).message.split('\n')[0]}`,
        `the table is "${table}" with columns ${names}, dt`,
        'LAKE_QUERY_INVALID',
      );
    }
    const cols = reader.columnNames();
    const texts = reader.getRowObjectsJson();
    const rows = reader
      .getRowObjectsJS()
      .map((r, i) => Object.fromEntries(cols.map((c) => [c, plain(r[c], texts[i]?.[c])])));
    return { columns: cols, rows };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** RFC 4180 CSV: a header, then one line per row; fields quoted when they need it. */
export function toCsv(result: QueryResult): string {
  const field = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return `${[result.columns.map(field).join(','), ...result.rows.map((r) => result.columns.map((c) => field(r[c])).join(','))].join('\r\n')}\r\n`;
}
