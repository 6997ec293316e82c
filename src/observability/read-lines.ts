/**
 * Line scanning for the log and span files, bounded in memory: reads the last `maxBytes` of a file
 * in 1 MiB chunks and hands over complete lines that pass a cheap substring test before anything is
 * parsed (security events are a few lines among many request logs).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

const CHUNK = 1024 * 1024;

export function scanLines(
  path: string,
  onLine: (line: string) => void,
  opts: { maxBytes?: number; contains?: string } = {},
): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return;
  }
  const start = Math.max(0, size - (opts.maxBytes ?? 64 * CHUNK));
  const fd = openSync(path, 'r');
  try {
    let pos = start;
    let carry = '';
    let first = start > 0; // the first line is probably cut: skip it
    const buf = Buffer.alloc(CHUNK);
    while (pos < size) {
      const n = readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
      if (n <= 0) break;
      pos += n;
      const text = carry + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) {
        if (first) {
          first = false;
          continue;
        }
        if (line && (!opts.contains || line.includes(opts.contains))) onLine(line);
      }
    }
    // A last line without newline is being written: left for the next read.
  } finally {
    closeSync(fd);
  }
}
