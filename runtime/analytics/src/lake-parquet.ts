/**
 * Writes lake parts as Parquet through DuckDB (`@duckdb/node-api` ships its engine as an npm
 * package, so users need nothing else). Rows go through DuckDB's appender into an in-memory table
 * typed from the lake schema, and COPY writes one zstd-compressed Parquet file per part. DuckDB
 * loads only when an export asks for Parquet.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DuckDBAppender, DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { StoredEvent } from './events.ts';
import type { PartWriter } from './export.ts';
import { ENGINE_TYPES, lakeSchema } from './lake-schema.ts';

const WRITER_COLUMNS = 'id,type,content_id,user_id,country,ts,received_at';

/** Accumulates one part's rows and turns them into a Parquet file's bytes. */
export class ParquetPartWriter implements PartWriter {
  readonly extension = 'parquet';
  private readonly instance: DuckDBInstance;
  private readonly conn: DuckDBConnection;
  private readonly dir: string;
  private readonly timestamp: (ms: number) => unknown;
  private appender: DuckDBAppender;
  private rows = 0;

  private constructor(
    instance: DuckDBInstance,
    conn: DuckDBConnection,
    dir: string,
    timestamp: (ms: number) => unknown,
    appender: DuckDBAppender,
  ) {
    this.instance = instance;
    this.conn = conn;
    this.dir = dir;
    this.timestamp = timestamp;
    this.appender = appender;
  }

  static async open(): Promise<ParquetPartWriter> {
    const { columns } = lakeSchema();
    // add() appends in this order; a schema change must change add() too, and this says so.
    const order = columns.map((c) => c.name).join(',');
    if (order !== WRITER_COLUMNS)
      throw new Error(`lake schema columns ${order} differ from the Parquet writer's ${WRITER_COLUMNS}`);
    const duck = await import('@duckdb/node-api');
    const instance = await duck.DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    await conn.run(
      `CREATE TABLE part (${columns.map((c) => `${c.name} ${ENGINE_TYPES.duckdb[c.type]}${c.nullable ? '' : ' NOT NULL'}`).join(', ')})`,
    );
    const dir = mkdtempSync(join(tmpdir(), 'platformctl-lake-'));
    const timestamp = (ms: number) => new duck.DuckDBTimestampValue(BigInt(ms) * 1000n);
    return new ParquetPartWriter(instance, conn, dir, timestamp, await conn.createAppender('part'));
  }

  /** Rows added since the last `finish`. */
  get size(): number {
    return this.rows;
  }

  /** Adds one event in the schema's column order. */
  add(e: StoredEvent, receivedAt: number): void {
    const [id, type, contentId, userId, ts, country] = e;
    const a = this.appender;
    a.appendVarchar(id);
    a.appendVarchar(type);
    a.appendVarchar(contentId);
    if (userId === null) a.appendNull();
    else a.appendVarchar(userId);
    if (country === undefined) a.appendNull();
    else a.appendVarchar(country);
    a.appendTimestamp(this.timestamp(ts) as never);
    a.appendTimestamp(this.timestamp(receivedAt) as never);
    a.endRow();
    this.rows++;
  }

  /** The part's Parquet bytes; the writer is empty again afterwards. */
  async finish(): Promise<Buffer> {
    this.appender.closeSync();
    const file = join(this.dir, 'part.parquet');
    await this.conn.run(`COPY part TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
    await this.conn.run('DELETE FROM part');
    const bytes = readFileSync(file);
    this.appender = await this.conn.createAppender('part');
    this.rows = 0;
    return bytes;
  }

  close(): void {
    this.appender.closeSync();
    this.conn.closeSync();
    this.instance.closeSync();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
