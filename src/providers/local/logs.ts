/**
 * Reading the instances' JSON log files: parse (pino numeric or string levels, non-JSON lines kept
 * as messages), filter (since, level, request id), tail and follow, and merge several files in time
 * order.
 */
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { levelRank, parseLogLine } from '../../../runtime/contract/log-line.ts';
import type { LogEntry, LogQuery } from '../provider.ts';

/** Parses one log line of `instance` (a file `<instance>.log`) with the runtime's log-line format. */
export function parseLine(
  line: string,
  service: string,
  instance: string,
  fallbackTime = Date.now(),
): LogEntry {
  const { service: named, ...parsed } = parseLogLine(line, fallbackTime);
  return { service: named ?? service, instance, ...parsed };
}

export function matches(entry: LogEntry, q: LogQuery, now = Date.now()): boolean {
  if (q.sinceMs !== undefined && entry.time < now - q.sinceMs) return false;
  if (q.level && levelRank(entry.level) < levelRank(q.level)) return false;
  if (q.requestId) {
    const f = entry.fields;
    const ids = [entry.reqId, f.traceId, f['x-request-id']].filter((x) => x !== undefined).map(String);
    if (!ids.includes(q.requestId) && !JSON.stringify(f).includes(q.requestId)) return false;
  }
  return true;
}

export interface LogFile {
  service: string;
  instance: string;
  path: string;
}

/** Log files of `service` (or all services with `all`); instance ids look like `<service>-<n>`. */
export function logFiles(dir: string, service: string, knownServices: string[]): LogFile[] {
  if (!existsSync(dir)) return [];
  const out: LogFile[] = [];
  const byLength = [...knownServices].sort((a, b) => b.length - a.length);
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.log') || name === 'supervisor.log') continue;
    const instance = basename(name, '.log');
    const owner = byLength.find((s) => instance.startsWith(`${s}-`)) ?? instance.replace(/-\d+$/, '');
    if (service === 'all' || owner === service) out.push({ service: owner, instance, path: join(dir, name) });
  }
  return out.sort((a, b) => a.instance.localeCompare(b.instance, undefined, { numeric: true }));
}

/** Reads a whole file's complete lines starting at byte `from`; returns them and the next offset. */
export function readFrom(path: string, from: number): { lines: string[]; next: number } {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return { lines: [], next: from };
  }
  if (size < from) from = 0; // truncated or replaced (purge): start over
  if (size === from) return { lines: [], next: from };
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    const text = buf.toString('utf8');
    const end = text.lastIndexOf('\n');
    if (end === -1) return { lines: [], next: from };
    return {
      lines: text.slice(0, end).split('\n').filter(Boolean),
      next: from + Buffer.byteLength(text.slice(0, end + 1)),
    };
  } finally {
    closeSync(fd);
  }
}

/** The last `n` lines of a file (reads at most the last 256 KiB). */
export function lastLines(path: string, n: number): string[] {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return [];
  }
  const start = Math.max(0, size - 256 * 1024);
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString('utf8').split('\n').filter(Boolean);
    return lines.slice(-n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Entries of `files` matching `q`, oldest first; with `follow`, keeps polling for new lines (new
 * instances' files included via `refresh`) until `q.signal` aborts.
 */
export async function* readLogs(files: () => LogFile[], q: LogQuery, pollMs = 200): AsyncGenerator<LogEntry> {
  const offsets = new Map<string, number>();
  const initial: LogEntry[] = [];
  for (const f of files()) {
    const { lines, next } = readFrom(f.path, 0);
    offsets.set(f.path, next);
    const picked = lines.map((l) => parseLine(l, f.service, f.instance)).filter((e) => matches(e, q));
    initial.push(...(q.tail === undefined ? picked : q.tail === 0 ? [] : picked.slice(-q.tail)));
  }
  initial.sort((a, b) => a.time - b.time);
  yield* initial;
  if (!q.follow) return;
  while (!q.signal?.aborted) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      q.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(t);
          resolve();
        },
        { once: true },
      );
    });
    const batch: LogEntry[] = [];
    for (const f of files()) {
      const { lines, next } = readFrom(f.path, offsets.get(f.path) ?? 0);
      offsets.set(f.path, next);
      batch.push(
        ...lines
          .map((l) => parseLine(l, f.service, f.instance))
          .filter((e) => matches(e, { ...q, sinceMs: undefined })),
      );
    }
    batch.sort((a, b) => a.time - b.time);
    yield* batch;
  }
}
