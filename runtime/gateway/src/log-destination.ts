/**
 * The gateway's one log destination (access lines and its own lines), with a bound on what it
 * holds in memory: sonic-boom buffers whatever its consumer has not taken yet, so a stalled disk or
 * stdout reader would otherwise grow the heap with every request.
 */
import { pino } from 'pino';

export type LogDestination = ReturnType<typeof pino.destination>;

/**
 * Bytes the destination may hold unwritten before it drops lines (sonic-boom's `maxLength`). 4 MiB
 * is ~16k access lines, about a second of the gateway at full load: enough to ride out a slow fsync
 * or a log shipper's pause, small next to the gateway's heap, and far above the largest single write
 * (a 256-line access-log batch, ~64 KiB), which sonic-boom drops whole if it does not fit.
 */
export const LOG_BUFFER_MAX_BYTES = 4 * 1024 * 1024;
/** At most one warning about dropped lines per this many milliseconds. */
export const DROP_WARNING_INTERVAL_MS = 60_000;

/**
 * Buffered (8 KiB gathered per write) unless `lineByLine`: workers of a clustered gateway share a
 * pipe on stdout, where only writes up to PIPE_BUF are atomic, so they write each line at once.
 */
export function createLogDestination(fd: number, lineByLine: boolean): LogDestination {
  return pino.destination({
    dest: fd,
    sync: lineByLine,
    minLength: lineByLine ? 0 : 8192,
    maxLength: LOG_BUFFER_MAX_BYTES,
  });
}

/**
 * Counts the lines `destination` drops and reports them to `warn` at most once per `intervalMs`:
 * at the first drop, then at the first drop after each interval, with the lines dropped since the
 * last report. sonic-boom emits 'drop' with the whole chunk it refused (`write` is all or nothing,
 * and the gateway writes whole lines), so the chunk's newlines are its lines.
 */
export function countDroppedLines(
  destination: LogDestination,
  dropped: (lines: number) => void,
  warn: (lines: number) => void,
  options: { intervalMs?: number; now?: () => number } = {},
): void {
  const intervalMs = options.intervalMs ?? DROP_WARNING_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let unreported = 0;
  let lastWarning = Number.NEGATIVE_INFINITY;
  destination.on('drop', (chunk: string | Buffer) => {
    const lines = countLines(typeof chunk === 'string' ? chunk : chunk.toString('latin1'));
    dropped(lines);
    unreported += lines;
    const t = now();
    if (t - lastWarning < intervalMs) return;
    lastWarning = t;
    warn(unreported);
    unreported = 0;
  });
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
