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
/** The batch buffer: 256 typical lines (~350 bytes each) fit; a fuller one is handed over early. */
const BATCH_BYTES = 128 * 1024;

const LEVEL_INFO = ascii('{"level":"info","time":"');
const LEVEL_WARN = ascii('{"level":"warn","time":"');
const MSG_REQ_ID = ascii(',"msg":"request","reqId":"');
const TRACE_ID = ascii('","traceId":"');
const METHOD = ascii('","method":"');
const PATH = ascii('","path":');
const STATUS = ascii(',"status":');
const DURATION = ascii(',"durationMs":');
const UPSTREAM = ascii(',"upstream":');
const UPSTREAM_VERSION = ascii(',"upstreamVersion":');
const UPSTREAM_INSTANCE = ascii(',"upstreamInstance":');
const ATTEMPTS = ascii(',"attempts":');
const USER_ID = ascii(',"userId":');
const ERROR = ascii(',"error":');
/** The longest fixed text of a line (every optional field present, numbers of up to 24 characters): a bound for its size. */
const FIXED_BYTES =
  LEVEL_INFO.length +
  MSG_REQ_ID.length +
  TRACE_ID.length +
  METHOD.length +
  PATH.length +
  STATUS.length +
  DURATION.length +
  UPSTREAM.length +
  UPSTREAM_VERSION.length +
  UPSTREAM_INSTANCE.length +
  ATTEMPTS.length +
  USER_ID.length +
  ERROR.length +
  3 * 24 +
  8;

/** A JSON string value encoded once, and whether its bytes are all ASCII. */
interface Encoded {
  bytes: Uint8Array;
  ascii: boolean;
}

export class AccessLog {
  /** Every request gets a line (ACCESS_LOG on and the level at info or below). */
  readonly enabled: boolean;
  /**
   * 5xx answers get a line at `warn` even with the access log off: they are what an operator
   * looks for with `platformctl logs all --level warn`.
   */
  readonly #failures: boolean;
  readonly #dest: Destination | undefined;
  /** The logger's bindings (pid, hostname, service…) as JSON members with a leading comma. */
  readonly #prefix: Encoded;
  #isoMs = -1;
  /** The time of the last line, as its ISO text's bytes (re-encoded once per millisecond). */
  #iso: Buffer = Buffer.alloc(24);
  /** JSON-encoded upstream names, versions, instances and user ids: a handful, seen on every line. */
  readonly #encoded = new Map<string, Encoded>();
  /**
   * Lines are written as UTF-8 bytes straight into one reused buffer (constant text copied from
   * bytes encoded once, ids and numbers written in place) and handed over as one string per
   * batch: no per-line string concatenation, and no join that flattens hundreds of concatenated
   * strings per batch. In the gateway under load that join, walking lines built up to 50 ms
   * earlier, cost more than the formatting; the access log's share of the profile fell from
   * 3.1-3.6 % to 1.9-2.2 % (docs/benchmarks.md, "Gateway CPU per request, 2026-12-07 night"). In a
   * loop on its own, with nothing else allocating, the two cost about the same. The bytes are
   * exactly what the JSON text of the old per-line template gave (runtime/gateway/test/
   * access-log.test.ts compares them).
   *
   * With a buffered destination (the gateway's own, 8 KiB), lines are handed over BATCH_LINES at
   * a time. A crash (kill -9) can lose one unwritten batch (at most BATCH_LINES lines, or BATCH_MS
   * of them) besides what the destination's own buffer held; a graceful stop flushes both. An
   * unbuffered destination (tests, line-by-line mode) gets each line at once.
   */
  readonly #batched: boolean;
  #buf = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;
  #lines = 0;
  /** Whether the gathered bytes hold any non-ASCII byte (then they are decoded as UTF-8). */
  #nonAscii = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, enabled: boolean) {
    const dest = (logger as unknown as Record<symbol, Destination | undefined>)[pino.symbols.streamSym];
    const writable = typeof dest?.write === 'function';
    this.enabled = enabled && logger.isLevelEnabled('info') && writable;
    this.#failures = logger.isLevelEnabled('warn') && writable;
    this.#dest = dest;
    this.#batched = (dest?.minLength ?? 0) > 0;
    const base = JSON.stringify(logger.bindings()).slice(1, -1);
    this.#prefix = encoded(base ? `,${base}` : '');
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
      const iso = new Date(now).toISOString();
      if (iso.length === this.#iso.length) this.#iso.write(iso, 0, 'latin1');
      else this.#iso = Buffer.from(iso, 'latin1');
    }
    const path = PLAIN.test(e.path) ? undefined : JSON.stringify(e.path);
    const service = e.service ? this.#json(e.service) : undefined;
    const version = e.version ? this.#json(e.version) : undefined;
    const instance = e.instance ? this.#json(e.instance) : undefined;
    const user = e.userId ? this.#json(e.userId) : undefined;
    const error = e.error ? JSON.stringify(e.error) : undefined;
    // An upper bound of the line's size: UTF-8 takes at most 3 bytes per UTF-16 unit.
    const bound =
      FIXED_BYTES +
      this.#iso.length +
      this.#prefix.bytes.length +
      3 *
        (e.reqId.length +
          e.traceId.length +
          e.method.length +
          (path ?? e.path).length +
          (error?.length ?? 0)) +
      (service?.bytes.length ?? 0) +
      (version?.bytes.length ?? 0) +
      (instance?.bytes.length ?? 0) +
      (user?.bytes.length ?? 0);
    if (this.#used + bound > this.#buf.length) {
      this.flush();
      if (bound > this.#buf.length) this.#buf = Buffer.allocUnsafe(Math.max(BATCH_BYTES, bound));
    }
    const b = this.#buf;
    let o = this.#used;
    o = put(b, o, e.status >= 500 ? LEVEL_WARN : LEVEL_INFO);
    o = put(b, o, this.#iso);
    b[o++] = 0x22; // "
    if (!this.#prefix.ascii) this.#nonAscii = true;
    o = put(b, o, this.#prefix.bytes);
    o = put(b, o, MSG_REQ_ID);
    o = this.#text(b, o, e.reqId);
    o = put(b, o, TRACE_ID);
    o = this.#text(b, o, e.traceId);
    o = put(b, o, METHOD);
    o = this.#text(b, o, e.method);
    o = put(b, o, PATH);
    if (path === undefined) {
      b[o++] = 0x22;
      o = this.#text(b, o, e.path);
      b[o++] = 0x22;
    } else o = this.#text(b, o, path);
    o = put(b, o, STATUS);
    o = this.#number(b, o, e.status);
    o = put(b, o, DURATION);
    o = this.#millis(b, o, e.durationMs);
    // Not `service`/`version`/`instance`: those name the gateway itself in every line of the kit.
    if (service) o = this.#put(b, o, UPSTREAM, service);
    if (version) o = this.#put(b, o, UPSTREAM_VERSION, version);
    if (instance) o = this.#put(b, o, UPSTREAM_INSTANCE, instance);
    if (e.attempts > 1) {
      o = put(b, o, ATTEMPTS);
      o = this.#number(b, o, e.attempts);
    }
    if (user) o = this.#put(b, o, USER_ID, user);
    if (error) {
      o = put(b, o, ERROR);
      o = this.#text(b, o, error);
    }
    b[o++] = 0x7d; // }
    b[o++] = 0x0a; // \n
    this.#used = o;
    this.#lines++;
    if (!this.#batched || this.#lines >= BATCH_LINES) this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), BATCH_MS);
      this.#timer.unref();
    }
  }

  /** Hands gathered lines to the destination (the gateway calls it on close). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#used === 0) return;
    // ASCII bytes are their own Latin-1 text: a plain copy instead of a UTF-8 decode.
    const text = this.#buf.toString(this.#nonAscii ? 'utf8' : 'latin1', 0, this.#used);
    this.#used = 0;
    this.#lines = 0;
    this.#nonAscii = false;
    this.#dest?.write(text);
  }

  /** `s` as UTF-8 at `o`: ASCII byte by byte (ids, methods, paths), anything else by the encoder. */
  #text(b: Buffer, o: number, s: string): number {
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.#nonAscii = true;
        return o + b.write(s, o);
      }
      b[o + i] = c;
    }
    return o + n;
  }

  #put(b: Buffer, o: number, name: Uint8Array, value: Encoded): number {
    if (!value.ascii) this.#nonAscii = true;
    return put(b, put(b, o, name), value.bytes);
  }

  /** A non-negative integer's digits (status codes, attempts); anything else as JavaScript prints it. */
  #number(b: Buffer, o: number, n: number): number {
    if (!Number.isSafeInteger(n) || n < 0) return this.#text(b, o, `${n}`);
    if (n >= 10) o = this.#number(b, o, Math.floor(n / 10));
    b[o] = 0x30 + (n % 10);
    return o + 1;
  }

  /**
   * `ms` as JSON, rounded to the microsecond (the text `${Math.round(ms * 1000) / 1000}` gives),
   * written in place from two integers: the integer milliseconds, then up to three decimals
   * without trailing zeros. Printing the double took V8's float printer on every access line
   * (~0.7 % of the gateway's CPU under load).
   */
  #millis(b: Buffer, o: number, ms: number): number {
    const us = Math.round(ms * 1000);
    if (!Number.isSafeInteger(us) || us < 0) return this.#text(b, o, `${us / 1000}`);
    const whole = Math.floor(us / 1000);
    let frac = us - whole * 1000;
    o = this.#number(b, o, whole);
    if (frac === 0) return o;
    b[o++] = 0x2e; // .
    for (let unit = 100; frac > 0; unit /= 10) {
      const d = Math.floor(frac / unit);
      b[o++] = 0x30 + d;
      frac -= d * unit;
    }
    return o;
  }

  /** JSON.stringify(s) as bytes, remembered for the first ENCODED_MAX distinct values. */
  #json(s: string): Encoded {
    let v = this.#encoded.get(s);
    if (v === undefined) {
      v = encoded(JSON.stringify(s));
      if (this.#encoded.size < ENCODED_MAX) this.#encoded.set(s, v);
    }
    return v;
  }
}

function ascii(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

function encoded(text: string): Encoded {
  const bytes = Buffer.from(text, 'utf8');
  return { bytes, ascii: bytes.length === text.length };
}

/** Copies `bytes` to `b` at `o`; short ones byte by byte (cheaper than a native copy call). */
function put(b: Buffer, o: number, bytes: Uint8Array): number {
  const n = bytes.length;
  if (n > 32) b.set(bytes, o);
  else for (let i = 0; i < n; i++) b[o + i] = bytes[i] as number;
  return o + n;
}

/** Printable ASCII without `"` or `\\`: a path made only of these needs no escaping in JSON. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
const ENCODED_MAX = 4096;
