/**
 * The per-request access log line, in the same JSON shape as runtime/lib's pino logger (level,
 * time, service, version, instance, msg, fields) and written to the same destination. The line
 * is assembled by hand instead of through `logger.info(obj)`: the kit's logger redacts by
 * wildcard paths, which made logging ~40% of the gateway's throughput cost; an access line holds
 * only fields the gateway itself chose (no query strings, headers or bodies), so nothing to redact.
 */
import { type Logger, pino } from 'pino';

export interface AccessEntry {
  reqId: string;
  traceId: string;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  service: string | undefined;
  version: string | undefined;
  instance: string | undefined;
  attempts: number;
  userId: string | undefined;
  error: string | undefined;
}

interface Destination {
  write(line: string): unknown;
  /** sonic-boom's: bytes it gathers before writing; > 0 means the destination buffers anyway. */
  minLength?: number;
}

/**
 * Lines gathered into one destination write (when the destination buffers anyway). Each write is a
 * thread-pool round trip (~40 µs of CPU with its buffer copy): at 64 lines a batch that was ~0.45
 * µs per line, at 256 about a quarter of it (docs/benchmarks.md, "Access log writes").
 */
const BATCH_LINES = 256;
/** The longest a gathered line waits for its batch. */
const BATCH_MS = 50;

export class AccessLog {
  /** Every request gets a line (ACCESS_LOG on and the level at info or below). */
  readonly enabled: boolean;
  /**
   * 5xx answers get a line at `warn` even with the access log off: they are what an operator
   * looks for with `platformctl logs all --level warn`.
   */
  readonly #failures: boolean;
  readonly #dest: Destination | undefined;
  readonly #prefix: string;
  #isoMs = 0;
  #iso = '';
  /** JSON-encoded upstream names, versions, instances and user ids: a handful, seen on every line. */
  readonly #encoded = new Map<string, string>();
  /**
   * With a buffered destination (the gateway's own, 8 KiB), lines are gathered and handed over
   * BATCH_LINES at a time: one flat string per batch instead of a UTF-8 length scan, a string
   * append and a buffer check per line. A crash (kill -9) can lose one unwritten batch (at most
   * BATCH_LINES lines, or BATCH_MS of them) besides what the destination's own buffer held; a
   * graceful stop flushes both. An unbuffered destination (tests, line-by-line mode) gets each
   * line at once.
   */
  readonly #batched: boolean;
  #batch: string[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, enabled: boolean) {
    const dest = (logger as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
    const writable = typeof dest?.write === 'function';
    this.enabled = enabled && logger.isLevelEnabled('info') && writable;
    this.#failures = logger.isLevelEnabled('warn') && writable;
    this.#dest = dest;
    this.#batched = (dest?.minLength ?? 0) > 0;
    const base = JSON.stringify(logger.bindings()).slice(1, -1);
    this.#prefix = base ? `,${base}` : '';
  }

  /** Whether a request answered with `status` gets a line. */
  wants(status: number): boolean {
    return this.enabled || (status >= 500 && this.#failures);
  }

  /** `reqId` (validated by the gateway), `traceId` (hex) and `method` (an HTTP token) need no escaping. */
  write(e: AccessEntry): void {
    const now = Date.now();
    if (now !== this.#isoMs) {
      this.#isoMs = now;
      this.#iso = new Date(now).toISOString();
    }
    const path = PLAIN.test(e.path) ? `"${e.path}"` : JSON.stringify(e.path);
    let line = `{"level":"${e.status >= 500 ? 'warn' : 'info'}","time":"${this.#iso}"${this.#prefix},"msg":"request","reqId":"${e.reqId}","traceId":"${e.traceId}","method":"${e.method}","path":${path},"status":${e.status},"durationMs":${millis(e.durationMs)}`;
    // Not `service`/`version`/`instance`: those name the gateway itself in every line of the kit.
    if (e.service) line += `,"upstream":${this.#json(e.service)}`;
    if (e.version) line += `,"upstreamVersion":${this.#json(e.version)}`;
    if (e.instance) line += `,"upstreamInstance":${this.#json(e.instance)}`;
    if (e.attempts > 1) line += `,"attempts":${e.attempts}`;
    if (e.userId) line += `,"userId":${this.#json(e.userId)}`;
    if (e.error) line += `,"error":${JSON.stringify(e.error)}`;
    if (!this.#batched) {
      this.#dest?.write(`${line}}\n`);
      return;
    }
    this.#batch.push(`${line}}\n`);
    if (this.#batch.length >= BATCH_LINES) this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), BATCH_MS);
      this.#timer.unref();
    }
  }

  /** Hands gathered lines to the destination (the gateway calls it on close). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    const text = this.#batch.join('');
    this.#batch = [];
    this.#dest?.write(text);
  }

  /** JSON.stringify(s), remembered for the first ENCODED_MAX distinct values. */
  #json(s: string): string {
    let v = this.#encoded.get(s);
    if (v === undefined) {
      v = JSON.stringify(s);
      if (this.#encoded.size < ENCODED_MAX) this.#encoded.set(s, v);
    }
    return v;
  }
}

/**
 * `ms` as JSON, rounded to the microsecond: the text `${Math.round(ms * 1000) / 1000}` gives, built
 * from two integers. Printing the double took V8's float printer on every access line (~0.7 % of
 * the gateway's CPU under load); small integers come from its number-string cache.
 */
export function millis(ms: number): string {
  const us = Math.round(ms * 1000);
  if (!Number.isSafeInteger(us) || us < 0) return `${us / 1000}`;
  const whole = Math.floor(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return `${whole}`;
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/** Printable ASCII without `"` or `\\`: a path made only of these needs no escaping in JSON. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const ENCODED_MAX = 4096;
