/**
 * Data-lake export: the raw events received on one UTC day under `events/dt=YYYY-MM-DD/` in the
 * blob store (file or S3), as Parquet parts (`part-NNNNN.parquet`, the default, with the columns of
 * `lake/events.schema.json`) or gzip JSON lines (`part-NNNNN.jsonl.gz`). Hive-style `dt=` partitions
 * are read as-is by DuckDB (`platformctl analytics query`), Athena/Glue, BigQuery external tables,
 * Synapse serverless and Spark. Partitioning is by the day the platform
 * received the events (their `ts` is client-supplied and may be late or wrong); each line keeps
 * the event's own `ts`.
 *
 * Idempotent: the parts of a day are rewritten deterministically (log order) and stale parts are
 * removed; `_SUCCESS` is written last, so a reader never takes a half-written day for complete.
 * The source is the ingest log, kept for two days (see projector.ts): export yesterday daily.
 */
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Blobs } from '../../lib/storage/blobs.ts';
import type { Db } from '../../lib/storage/db.ts';
import type { StoredEvent } from './events.ts';

const DAY = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The part files' format. */
export type LakeFormat = 'parquet' | 'jsonl';

export interface ExportOptions {
  /** Default parquet. */
  format?: LakeFormat;
  /** Events per part file. Default 100 000. */
  eventsPerPart?: number;
  /** Log rows read per query. Default 500. */
  batchRows?: number;
}

export interface ExportResult {
  date: string;
  format: LakeFormat;
  prefix: string;
  events: number;
  parts: string[];
}

/** `YYYY-MM-DD` → [start, end) in epoch ms (UTC); throws on an invalid date. */
export function dayBounds(date: string): [number, number] {
  const start = Date.parse(`${date}T00:00:00Z`);
  if (!DATE.test(date) || Number.isNaN(start) || new Date(start).toISOString().slice(0, 10) !== date) {
    throw new RangeError(`invalid date "${date}", expected YYYY-MM-DD`);
  }
  return [start, start + DAY];
}

export function partitionPrefix(date: string): string {
  return `events/dt=${date}/`;
}

function line(e: StoredEvent, receivedAt: number): string {
  const [id, type, contentId, userId, ts, country] = e;
  return `${JSON.stringify({ id, type, contentId, userId, country: country ?? null, ts, receivedAt })}\n`;
}

/** One part being filled: rows in, file bytes out. */
export interface PartWriter {
  readonly extension: string;
  readonly size: number;
  add(e: StoredEvent, receivedAt: number): void;
  finish(): Promise<Buffer>;
  close(): void;
}

/** Gzip JSON lines: the format of the first lake, kept for readers that want text. */
class JsonLinesPartWriter implements PartWriter {
  readonly extension = 'jsonl.gz';
  private lines: string[] = [];
  get size(): number {
    return this.lines.length;
  }
  add(e: StoredEvent, receivedAt: number): void {
    this.lines.push(line(e, receivedAt));
  }
  async finish(): Promise<Buffer> {
    const gz = Readable.from(this.lines).pipe(createGzip());
    this.lines = [];
    const out: Buffer[] = [];
    for await (const c of gz) out.push(c as Buffer);
    return Buffer.concat(out);
  }
  close(): void {}
}

async function openWriter(format: LakeFormat): Promise<PartWriter> {
  if (format === 'jsonl') return new JsonLinesPartWriter();
  const { ParquetPartWriter } = await import('./lake-parquet.ts');
  return ParquetPartWriter.open();
}

export async function exportDay(
  logDb: Db,
  blobs: Blobs,
  date: string,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const [start, end] = dayBounds(date);
  const format = options.format ?? 'parquet';
  const perPart = options.eventsPerPart ?? 100_000;
  const batchRows = options.batchRows ?? 500;
  const prefix = partitionPrefix(date);
  const parts: string[] = [];
  let events = 0;
  const writer = await openWriter(format);
  try {
    const flush = async () => {
      if (writer.size === 0) return;
      const key = `${prefix}part-${String(parts.length).padStart(5, '0')}.${writer.extension}`;
      await blobs.put(key, await writer.finish());
      parts.push(key);
    };
    let after = 0;
    for (let i = 0; i < 10_000_000; i++) {
      const rows = await logDb.query<{ seq: number; received_at: number; events: string }>(
        'SELECT seq, received_at, events FROM ingest_log WHERE seq > ? AND received_at >= ? AND received_at < ? ORDER BY seq LIMIT ?',
        [after, start, end, batchRows],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        for (const e of JSON.parse(row.events) as StoredEvent[]) {
          writer.add(e, row.received_at);
          events++;
          if (writer.size >= perPart) await flush();
        }
      }
      after = rows[rows.length - 1]!.seq;
    }
    await flush();
  } finally {
    writer.close();
  }
  // A re-export with fewer parts (e.g. a smaller part size) must not leave old parts behind.
  for (const stale of await blobs.list(prefix)) {
    if (!parts.includes(stale.key) && stale.key !== `${prefix}_SUCCESS`) await blobs.delete(stale.key);
  }
  await blobs.put(`${prefix}_SUCCESS`, JSON.stringify({ date, format, events, parts: parts.length }));
  return { date, format, prefix, events, parts };
}
