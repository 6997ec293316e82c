/**
 * The log-line format of the runtime (runtime/lib/logger.ts writes it, `platformctl logs` reads it
 * from files locally and from the Log API on Kubernetes): one JSON object per line with a level
 * (a label, or pino's number), a time (ISO string or epoch milliseconds), `msg`, and per request
 * `reqId`. Lines that are not JSON are kept as messages at level `info`.
 */

/** Levels from least to most severe. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** pino's numeric levels. */
const PINO_LEVELS: Record<number, LogLevel> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** What one line says, before the reader adds where it came from (service, instance). */
export interface ParsedLogLine {
  /** Epoch milliseconds; `fallbackTime` when the line has none. */
  time: number;
  /** Lower-case level name (`WARN` and `warn` are the same level). */
  level: string;
  msg: string;
  reqId?: string;
  /** The service the line names itself, when it does. */
  service?: string;
  /** The parsed JSON object (or `{ msg: line }` for a line that was not JSON). */
  fields: Record<string, unknown>;
}

/** The level name of a raw `level` field: pino numbers, any-case labels, `info` otherwise. */
export function levelName(raw: unknown): string {
  if (typeof raw === 'number') return PINO_LEVELS[raw] ?? 'info';
  if (typeof raw === 'string' && raw !== '') return raw.toLowerCase();
  return 'info';
}

/** Position of a level in LOG_LEVELS (unknown levels rank as `info`), for `--level` filters. */
export function levelRank(level: string): number {
  const i = LOG_LEVELS.indexOf(level.toLowerCase() as LogLevel);
  return i === -1 ? LOG_LEVELS.indexOf('info') : i;
}

/** Parses one line; never throws. */
export function parseLogLine(line: string, fallbackTime = Date.now()): ParsedLogLine {
  let fields: Record<string, unknown>;
  try {
    const parsed = JSON.parse(line) as unknown;
    fields =
      typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : { msg: line };
  } catch {
    fields = { msg: line };
  }
  const rawTime = fields.time;
  const time =
    typeof rawTime === 'number'
      ? rawTime
      : typeof rawTime === 'string' && !Number.isNaN(Date.parse(rawTime))
        ? Date.parse(rawTime)
        : fallbackTime;
  const reqId = fields.reqId ?? fields.requestId ?? (fields.req as Record<string, unknown> | undefined)?.id;
  return {
    time,
    level: levelName(fields.level),
    msg:
      typeof fields.msg === 'string'
        ? fields.msg
        : typeof fields.message === 'string'
          ? fields.message
          : line,
    ...(reqId !== undefined ? { reqId: String(reqId) } : {}),
    ...(typeof fields.service === 'string' ? { service: fields.service } : {}),
    fields,
  };
}
