/**
 * A lean HTTP/1.1 client over plain keep-alive sockets, shared by the gateway's upstream path and
 * the load generator's max-throughput mode.
 *
 * Why not undici here: on both paths the client costs most of the CPU of a request. undici builds
 * and validates every request head through several layers, runs its wasm llhttp over every
 * response and keeps per-request timers; measured on this machine a bare undici proxy needed
 * ~45–55 µs of CPU per request where node:http answering by itself needs ~15. This client writes
 * the head as one latin1 string (or a cached buffer for static requests), looks only at the status
 * line and headers of a response (parsed into a plain object only when the caller wants them), and
 * checks timeouts with one coarse sweep per pool instead of a timer per request.
 *
 * Scope: http and https (TLS with the default CAs); keep-alive pools with optional pipelining (responses in order); request bodies
 * from a buffer or a stream (content-length when known, else chunked), with backpressure;
 * responses framed by content-length, chunked encoding or the end of the connection; connect,
 * headers and body timeouts; one transparent resend of an idempotent request that met a stale
 * keep-alive connection. Upgrades, 1xx other than skipping them, and trailers are not supported.
 */
import { connect, isIP, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as connectTls } from 'node:tls';

/** Error codes this client fails requests with (besides the socket's own, e.g. ECONNREFUSED). */
export const Http1Errors = {
  CONNECT_TIMEOUT: 'HTTP1_CONNECT_TIMEOUT',
  HEADERS_TIMEOUT: 'HTTP1_HEADERS_TIMEOUT',
  BODY_TIMEOUT: 'HTTP1_BODY_TIMEOUT',
  /** The connection ended before the response was complete. */
  CLOSED: 'HTTP1_CLOSED',
  /** The response could not be parsed. */
  BAD_RESPONSE: 'HTTP1_BAD_RESPONSE',
  /** A request body stream ended before the content-length it announced. */
  BODY_LENGTH_MISMATCH: 'HTTP1_BODY_LENGTH_MISMATCH',
  /** A header name or value would break the request framing (CR, LF or NUL). */
  INVALID_HEADER: 'HTTP1_INVALID_HEADER',
  DESTROYED: 'HTTP1_DESTROYED',
} as const;

/** Lets a handler stop or throttle its own request. */
export interface Http1Controller {
  /** Ends the request: its connection is closed, the handler's onResponseError gets `err`. */
  abort(err: Error): void;
  /** Stops reading the response (backpressure) until resume(). */
  pause(): void;
  resume(): void;
}

/**
 * Response headers with lower-case names; a repeated header becomes an array. The framing headers
 * the client consumes itself (transfer-encoding, keep-alive, and connection when it only says
 * keep-alive or close) are left out, so a proxy has nothing to delete before relaying them.
 */
export type Http1Headers = Record<string, string | string[] | undefined>;

/** The callbacks of one request, in the order they happen; after an error there are no more. */
export interface Http1Handler {
  /** The request was written to a connection (for latency measurement, or to keep the controller). */
  onRequestStart?(controller: Http1Controller): void;
  /** `headers` is undefined when the pool was made with `parseHeaders: false`. */
  onResponseStart(controller: Http1Controller, statusCode: number, headers: Http1Headers | undefined): void;
  /**
   * `last` is true when this chunk completes a body of known length (onResponseEnd follows at
   * once), so a proxy can end its own response with it in one write.
   */
  onResponseData(controller: Http1Controller, chunk: Buffer, last: boolean): void;
  onResponseEnd(): void;
  onResponseError(controller: Http1Controller, err: Error): void;
  /** When false no slice of the body is handed out at all. */
  readonly wantsBody?: boolean;
}

export interface Http1Request {
  method: string;
  path: string;
  /** A flat [name, value, …] list, or an object. `host` is added when absent. */
  headers: readonly string[] | Readonly<Record<string, string>>;
  /** A stream is sent as it comes (content-length when the headers carry one, else chunked). */
  body?: Buffer | string | Readable | null;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

export interface Http1PoolOptions {
  /** Most connections open at once. */
  connections: number;
  /** Requests in flight per connection (1 = no pipelining). */
  pipelining?: number;
  connectTimeoutMs?: number;
  /** No byte moved for this long while waiting for a response head. */
  headersTimeoutMs?: number;
  /** No byte of the response body for this long. */
  bodyTimeoutMs?: number;
  /** An idle connection older than this is closed, not reused (the server may be closing it). */
  keepAliveTimeoutMs?: number;
  /** Parse response headers into an object for onResponseStart (default true). */
  parseHeaders?: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const LAST_CHUNK = '0\r\n\r\n';
/** Below undici's 4 s default: Node servers close idle keep-alive sockets after 5 s. */
const DEFAULT_KEEPALIVE_MS = 4000;
/** A server's `keep-alive: timeout=N` hint is trusted minus this margin. */
const KEEPALIVE_MARGIN_MS = 1000;

/** Parser states. */
const S = { head: 0, body: 1, chunkSize: 2, chunkData: 3, chunkCrlf: 4, trailers: 5, untilClose: 6 } as const;
/** What a busy connection is waiting for, for the timeout sweep. */
const WAIT = { none: 0, connect: 1, head: 2, body: 3 } as const;

function codedError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** How often `ch` occurs in `s` (native indexOf hops, no allocation). */
function count(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/**
 * The request head as a latin1 string, or an Error when a header or the path would break the
 * framing. Rather than scanning every name and value for CR, LF and NUL, the finished head is
 * checked once: it must hold exactly one CRLF per line this function wrote and no NUL, so a CR or
 * LF smuggled into any value shows up as an extra one.
 */
export function encodeHead(
  hostHeader: string,
  req: Http1Request,
  bodyLength: number | undefined,
): string | Error {
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  let lines = 2; // the request line and the blank line that ends the head
  let hasHost = false;
  let hasLength = false;
  const add = (name: string, value: string): void => {
    const lower = name.length === 4 || name.length === 14 || name.length === 17 ? name.toLowerCase() : '';
    if (lower === 'host') hasHost = true;
    else if (lower === 'content-length') {
      // A buffered body's own length wins over what the headers claim.
      if (bodyLength !== undefined) return;
      hasLength = true;
    } else if (lower === 'transfer-encoding') return;
    head += `${name}: ${value}\r\n`;
    lines++;
  };
  const h = req.headers;
  if (Array.isArray(h)) {
    for (let i = 0; i < h.length; i += 2) add(h[i] as string, h[i + 1] as string);
  } else {
    for (const name in h) add(name, (h as Record<string, string>)[name] as string);
  }
  if (!hasHost) {
    head += `host: ${hostHeader}\r\n`;
    lines++;
  }
  if (bodyLength !== undefined) {
    head += `content-length: ${bodyLength}\r\n`;
    lines++;
  } else if (isStream(req.body)) {
    if (!hasLength) {
      head += 'transfer-encoding: chunked\r\n';
      lines++;
    }
  } else if (!hasLength && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) {
    head += 'content-length: 0\r\n';
    lines++;
  }
  head += '\r\n';
  if (count(head, '\n') !== lines || count(head, '\r') !== lines || head.indexOf('\0') !== -1)
    return codedError('a header or the path holds CR, LF or NUL', Http1Errors.INVALID_HEADER);
  if (req.path.indexOf(' ') !== -1)
    return codedError('the request path holds a space', Http1Errors.INVALID_HEADER);
  return head;
}

function isStream(body: Http1Request['body']): body is Readable {
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body);
}

function declaredLength(headers: Http1Request['headers']): number | undefined {
  if (Array.isArray(headers)) {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name.length === 14 && name.toLowerCase() === 'content-length') return Number(headers[i + 1]);
    }
    return undefined;
  }
  for (const name in headers) {
    if (name.toLowerCase() === 'content-length') return Number((headers as Record<string, string>)[name]);
  }
  return undefined;
}

/** Response headers into an object; also reports the framing fields the parser needs. */
function parseHead(head: string, out: Http1Headers | undefined): { ok: boolean; framing: Framing } {
  const framing: Framing = { length: -1, chunked: false, close: false, keepAliveMs: -1 };
  let pos = head.indexOf('\r\n');
  if (pos === -1) pos = head.length;
  while (pos < head.length) {
    const start = pos + 2;
    let end = head.indexOf('\r\n', start);
    if (end === -1) end = head.length;
    pos = end;
    const colon = head.indexOf(':', start);
    if (colon === -1 || colon > end) {
      if (end > start) return { ok: false, framing };
      continue;
    }
    const name = head.slice(start, colon).toLowerCase();
    const value = head.slice(colon + 1, end).trim();
    switch (name) {
      case 'content-length': {
        const n = Number(value);
        if (!Number.isSafeInteger(n) || n < 0 || (framing.length !== -1 && framing.length !== n))
          return { ok: false, framing };
        framing.length = n;
        break;
      }
      case 'transfer-encoding':
        framing.chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        if (!framing.chunked) framing.close = true;
        continue;
      case 'connection': {
        const lower = value.toLowerCase();
        if (lower === 'keep-alive') continue;
        if (lower === 'close') {
          framing.close = true;
          continue;
        }
        // Other tokens name more hop-by-hop headers, which a proxy needs to see.
        if (/(?:^|,)\s*close\s*(?:,|$)/.test(lower)) framing.close = true;
        break;
      }
      case 'keep-alive': {
        const m = /timeout=(\d+)/i.exec(value);
        if (m) framing.keepAliveMs = Number(m[1]) * 1000;
        continue;
      }
    }
    if (out) {
      const prior = out[name];
      if (prior === undefined) out[name] = value;
      else if (Array.isArray(prior)) prior.push(value);
      else out[name] = [prior, value];
    }
  }
  return { ok: true, framing };
}

interface Framing {
  length: number;
  chunked: boolean;
  close: boolean;
  keepAliveMs: number;
}

/** One request from dispatch to its end. */
class Pending implements Http1Controller {
  readonly pool: Http1Pool;
  readonly req: Http1Request;
  readonly handler: Http1Handler;
  /** Pre-encoded head (+ buffered body) for static requests. */
  readonly encoded: Buffer | undefined;
  readonly head: boolean;
  conn: Connection | null = null;
  /** Bytes of the response seen; a stale keep-alive socket fails with none. */
  answered = false;
  /** The request body has not been written completely yet. */
  sending = false;
  done = false;
  resent = false;
  /** Stops copying the request body (set while a body stream is being sent). */
  bodyCleanup: (() => void) | undefined = undefined;

  constructor(pool: Http1Pool, req: Http1Request, handler: Http1Handler, encoded: Buffer | undefined) {
    this.pool = pool;
    this.req = req;
    this.handler = handler;
    this.encoded = encoded;
    this.head = req.method === 'HEAD';
  }

  abort(err: Error): void {
    if (this.done) return;
    const conn = this.conn;
    if (conn) conn.fail(err, this);
    else {
      this.pool.unqueue(this);
      this.fail(err);
    }
  }

  pause(): void {
    this.conn?.socket?.pause();
  }

  resume(): void {
    this.conn?.socket?.resume();
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.handler.onResponseError(this, err);
  }
}

class Connection {
  readonly pool: Http1Pool;
  socket: Socket | null = null;
  connected = false;
  /** Requests written (or waiting for the connect), oldest first. */
  readonly queue: Pending[] = [];
  /** Requests this socket has completed, so a failure can be told from a stale keep-alive socket. */
  served = 0;
  idleSince = 0;
  keepAliveMs: number;
  // parser
  state: number = S.head;
  carry: Buffer | null = null;
  remaining = 0;
  closeAfter = false;
  lastError: Error | null = null;
  // timeout sweep
  wait: number = WAIT.none;
  waitMs = 0;
  stuckMs = 0;
  progressed = false;

  constructor(pool: Http1Pool) {
    this.pool = pool;
    this.keepAliveMs = pool.keepAliveMs;
  }

  get load(): number {
    return this.queue.length;
  }

  send(p: Pending): void {
    p.conn = this;
    this.queue.push(p);
    if (!this.socket) this.open();
    else if (this.connected) this.write(p);
  }

  private open(): void {
    const pool = this.pool;
    const socket = pool.tls
      ? connectTls({
          host: pool.host,
          port: pool.port,
          ALPNProtocols: ['http/1.1'],
          ...(pool.servername ? { servername: pool.servername } : {}),
        })
      : connect({ host: pool.host, port: pool.port, noDelay: true });
    if (pool.tls) socket.setNoDelay(true);
    this.socket = socket;
    this.connected = false;
    this.served = 0;
    this.state = S.head;
    this.carry = null;
    this.closeAfter = false;
    this.lastError = null;
    this.keepAliveMs = this.pool.keepAliveMs;
    this.arm(WAIT.connect, this.pool.connectTimeoutMs);
    socket.on(pool.tls ? 'secureConnect' : 'connect', () => {
      if (this.socket !== socket) return;
      this.connected = true;
      if (this.queue.length === 0) this.wait = WAIT.none;
      for (const p of [...this.queue]) if (p.conn === this && this.socket === socket) this.write(p);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.onData(chunk, socket);
    });
    socket.on('error', (err) => {
      this.lastError = err;
    });
    socket.on('close', () => this.onClose(socket));
  }

  private arm(wait: number, ms: number): void {
    this.wait = wait;
    this.waitMs = ms;
    this.stuckMs = 0;
    this.progressed = false;
  }

  private write(p: Pending): void {
    const socket = this.socket as Socket;
    if (this.queue[0] === p) this.arm(WAIT.head, p.req.headersTimeoutMs ?? this.pool.headersTimeoutMs);
    p.handler.onRequestStart?.(p);
    if (p.done) return;
    if (p.encoded) {
      socket.write(p.encoded);
      return;
    }
    const body = p.req.body;
    if (isStream(body)) {
      const head = encodeHead(this.pool.hostHeader, p.req, undefined);
      if (head instanceof Error) {
        this.fail(head, p);
        return;
      }
      socket.write(head, 'latin1');
      this.stream(p, body);
      return;
    }
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const head = encodeHead(this.pool.hostHeader, p.req, buf ? buf.length : undefined);
    if (head instanceof Error) {
      this.fail(head, p);
      return;
    }
    if (buf && buf.length > 0) {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(buf);
      socket.uncork();
    } else socket.write(head, 'latin1');
  }

  /** Copies a body stream onto the socket, pausing it while the socket's buffer is full. */
  private stream(p: Pending, body: Readable): void {
    const socket = this.socket as Socket;
    const expected = declaredLength(p.req.headers);
    const chunked = expected === undefined;
    let sent = 0;
    p.sending = true;
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (buf.length === 0) return;
      this.progressed = true;
      sent += buf.length;
      let ok: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${buf.length.toString(16)}\r\n`, 'latin1');
        socket.write(buf);
        ok = socket.write(CRLF);
        socket.uncork();
      } else ok = socket.write(buf);
      if (!ok) {
        body.pause();
        socket.once('drain', onDrain);
      }
    };
    const onDrain = () => {
      if (p.sending) body.resume();
    };
    const cleanup = () => {
      p.sending = false;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      socket.off('drain', onDrain);
    };
    const onEnd = () => {
      cleanup();
      if (p.done || this.socket !== socket) return;
      if (chunked) socket.write(LAST_CHUNK, 'latin1');
      else if (sent !== expected) {
        this.fail(
          codedError('the request body ended before its announced length', Http1Errors.BODY_LENGTH_MISMATCH),
          p,
        );
      }
    };
    const onError = (err: Error) => {
      cleanup();
      this.fail(err, p);
    };
    p.bodyCleanup = cleanup;
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.resume();
  }

  /** Fails `p`; the connection is unusable now, so it closes (others on it are resent or fail). */
  fail(err: Error, p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i !== -1) this.queue.splice(i, 1);
    p.bodyCleanup?.();
    p.conn = null;
    p.fail(err);
    this.teardown(err);
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    if (this.state === S.untilClose && this.queue.length > 0) {
      // A body delimited by the end of the connection is complete now.
      this.complete(false);
      return;
    }
    this.teardown(
      this.lastError ??
        codedError('the connection closed before the response was complete', Http1Errors.CLOSED),
    );
  }

  /**
   * Detaches and closes the socket. Requests still on it go out again on a new connection when
   * that is safe: after a clean close (`err` null: the server said `connection: close`, so later
   * pipelined requests were never read), or, once, when an idempotent request with a replayable
   * body met a reused keep-alive socket the server was closing (no byte of an answer came back).
   */
  teardown(err: Error | null): void {
    const socket = this.socket;
    if (!socket) return;
    this.socket = null;
    this.connected = false;
    this.wait = WAIT.none;
    this.pool.forget(this);
    socket.destroy();
    const reused = this.served > 0;
    for (const p of this.queue.splice(0)) {
      p.bodyCleanup?.();
      p.conn = null;
      if (p.done) continue;
      const replayable = !p.answered && !isStream(p.req.body);
      if (replayable && err === null) this.pool.requeue(p);
      else if (replayable && reused && !p.resent && IDEMPOTENT.has(p.req.method)) {
        p.resent = true;
        this.pool.requeue(p);
      } else
        p.fail(
          err ?? codedError('the connection closed before the response was complete', Http1Errors.CLOSED),
        );
    }
    this.pool.drain();
  }

  /** Called by the pool's sweep: fails the head request when nothing moved for its timeout. */
  sweep(tickMs: number, now: number): void {
    if (this.wait === WAIT.none) {
      if (this.socket && this.queue.length === 0 && now - this.idleSince > this.keepAliveMs) {
        this.pool.forget(this);
        this.socket.destroy();
      }
      return;
    }
    if (this.progressed) {
      this.progressed = false;
      this.stuckMs = 0;
      return;
    }
    this.stuckMs += tickMs;
    if (this.stuckMs < this.waitMs) return;
    const p = this.queue[0];
    const err =
      this.wait === WAIT.connect
        ? codedError('connect timeout', Http1Errors.CONNECT_TIMEOUT)
        : this.wait === WAIT.head
          ? codedError('the upstream sent no response head in time', Http1Errors.HEADERS_TIMEOUT)
          : codedError('the upstream stopped sending the response body', Http1Errors.BODY_TIMEOUT);
    if (p) this.fail(err, p);
    else this.socket?.destroy();
  }

  private onData(chunk: Buffer, socket: Socket): void {
    this.progressed = true;
    let buf = chunk;
    let pos = 0;
    while (pos < buf.length) {
      const current = this.queue[0];
      if (!current) {
        // Bytes nobody asked for: the stream is out of sync; drop this connection.
        this.socket?.destroy();
        return;
      }
      current.answered = true;
      switch (this.state) {
        case S.head: {
          if (this.carry) {
            buf = Buffer.concat([this.carry, buf.subarray(pos)]);
            pos = 0;
            this.carry = null;
          }
          const end = buf.indexOf(HEAD_END, pos);
          if (end < 0) {
            if (buf.length - pos > this.pool.maxHeadBytes) {
              this.fail(codedError('response head too large', Http1Errors.BAD_RESPONSE), current);
              return;
            }
            this.carry = Buffer.from(buf.subarray(pos));
            return;
          }
          const head = buf.toString('latin1', pos, end);
          pos = end + 4;
          const status = Number(head.slice(9, 12));
          if (head.slice(0, 5) !== 'HTTP/' || !(status >= 100 && status < 600)) {
            this.fail(codedError('malformed response status line', Http1Errors.BAD_RESPONSE), current);
            return;
          }
          if (status < 200) continue; // 100 Continue and friends: the final response follows
          const headers: Http1Headers | undefined = this.pool.parseHeaders ? {} : undefined;
          const { ok, framing } = parseHead(head, headers);
          if (!ok) {
            this.fail(codedError('malformed response headers', Http1Errors.BAD_RESPONSE), current);
            return;
          }
          this.closeAfter = framing.close || head.charCodeAt(7) === 48; // HTTP/1.0
          if (framing.keepAliveMs > 0)
            this.keepAliveMs = Math.min(this.pool.keepAliveMs, framing.keepAliveMs - KEEPALIVE_MARGIN_MS);
          const noBody = current.head || status === 204 || status === 304;
          if (noBody) this.state = S.head;
          else if (framing.chunked) this.state = S.chunkSize;
          else if (framing.length >= 0) {
            this.remaining = framing.length;
            this.state = S.body;
          } else {
            this.state = S.untilClose;
            this.closeAfter = true;
          }
          this.arm(WAIT.body, current.req.bodyTimeoutMs ?? this.pool.bodyTimeoutMs);
          current.handler.onResponseStart(current, status, headers);
          if (this.socket !== socket) return; // aborted in the callback
          if (noBody || (this.state === S.body && this.remaining === 0)) {
            this.complete(true);
            if (this.socket !== socket) return;
          }
          continue;
        }
        case S.body:
        case S.chunkData: {
          const n = Math.min(this.remaining, buf.length - pos);
          if (current.handler.wantsBody !== false)
            current.handler.onResponseData(
              current,
              buf.subarray(pos, pos + n),
              this.state === S.body && n === this.remaining,
            );
          if (this.socket !== socket) return;
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            if (this.state === S.body) {
              this.complete(true);
              if (this.socket !== socket) return;
            } else this.state = S.chunkCrlf;
          }
          continue;
        }
        case S.chunkSize:
        case S.chunkCrlf:
        case S.trailers: {
          if (this.carry) {
            buf = Buffer.concat([this.carry, buf.subarray(pos)]);
            pos = 0;
            this.carry = null;
          }
          const eol = buf.indexOf(CRLF, pos);
          if (eol < 0) {
            if (buf.length - pos > this.pool.maxHeadBytes) {
              this.fail(codedError('chunk line too long', Http1Errors.BAD_RESPONSE), current);
              return;
            }
            this.carry = Buffer.from(buf.subarray(pos));
            return;
          }
          const line = buf.toString('latin1', pos, eol);
          pos = eol + 2;
          if (this.state === S.chunkCrlf) {
            if (line !== '') {
              this.fail(codedError('malformed chunk', Http1Errors.BAD_RESPONSE), current);
              return;
            }
            this.state = S.chunkSize;
          } else if (this.state === S.chunkSize) {
            const semi = line.indexOf(';');
            const hex = (semi === -1 ? line : line.slice(0, semi)).trim();
            const size = /^[0-9a-fA-F]{1,12}$/.test(hex) ? Number.parseInt(hex, 16) : Number.NaN;
            if (Number.isNaN(size)) {
              this.fail(codedError('malformed chunk size', Http1Errors.BAD_RESPONSE), current);
              return;
            }
            if (size === 0) this.state = S.trailers;
            else {
              this.remaining = size;
              this.state = S.chunkData;
            }
          } else if (line === '') {
            this.complete(true);
            if (this.socket !== socket) return;
          }
          continue;
        }
        case S.untilClose:
          if (current.handler.wantsBody !== false)
            current.handler.onResponseData(current, buf.subarray(pos), false);
          return;
      }
    }
  }

  /**
   * The head request's response is complete. The connection's state is settled before the handler
   * hears of it, since the handler may dispatch its next request from onResponseEnd.
   */
  private complete(reusable: boolean): void {
    const done = this.queue.shift() as Pending;
    this.state = S.head;
    this.served++;
    done.conn = null;
    done.done = true;
    // Answered before the body was sent: the request framing cannot be finished on this socket.
    const stillSending = done.sending;
    if (stillSending) done.bodyCleanup?.();
    // A handler that paused for backpressure may hear of the end before it resumes; the socket
    // must not stay paused for the next request on it (that handler's resume() is a no-op now).
    if (this.socket?.isPaused()) this.socket.resume();
    if (!reusable || this.closeAfter || stillSending) this.teardown(null);
    else {
      const next = this.queue[0];
      if (next) this.arm(WAIT.head, next.req.headersTimeoutMs ?? this.pool.headersTimeoutMs);
      else {
        this.wait = WAIT.none;
        this.idleSince = this.pool.now();
        this.pool.idle(this);
      }
    }
    done.handler.onResponseEnd();
    this.pool.drain();
  }

  destroy(err: Error): void {
    this.lastError = err;
    this.socket?.destroy();
  }
}

/**
 * Keep-alive connections to one origin. A request goes to an idle open connection when there is
 * one (most recently used first, so a few warm sockets serve a light load), else to a new
 * connection while fewer than `connections` are open, else (pipelining) to the least loaded one,
 * else it waits for the next free connection.
 */
export class Http1Pool {
  readonly tls: boolean;
  readonly servername: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly hostHeader: string;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly keepAliveMs: number;
  readonly parseHeaders: boolean;
  readonly maxHeadBytes = 64 * 1024;
  readonly #pipelining: number;
  readonly #slots: Connection[];
  /** Open connections with nothing in flight, most recently used last. */
  readonly #idle: Connection[] = [];
  readonly #waiting: Pending[] = [];
  readonly #cache = new WeakMap<Http1Request, Buffer>();
  #tickMs: number;
  #sweeper: NodeJS.Timeout | undefined;
  #destroyed = false;
  #clock = 0;

  constructor(origin: string, opts: Http1PoolOptions) {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new Error(`Http1Pool speaks http(s), not ${url.protocol}`);
    this.tls = url.protocol === 'https:';
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || (this.tls ? 443 : 80));
    // SNI takes a host name, never an IP address.
    this.servername = isIP(this.host) ? undefined : this.host;
    this.hostHeader = url.host;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.headersTimeoutMs = opts.headersTimeoutMs ?? 300_000;
    this.bodyTimeoutMs = opts.bodyTimeoutMs ?? 300_000;
    this.keepAliveMs = opts.keepAliveTimeoutMs ?? DEFAULT_KEEPALIVE_MS;
    this.parseHeaders = opts.parseHeaders ?? true;
    this.#pipelining = Math.max(1, opts.pipelining ?? 1);
    this.#slots = Array.from({ length: Math.max(1, opts.connections) }, () => new Connection(this));
    this.#tickMs = tickFor(
      Math.min(this.connectTimeoutMs, this.headersTimeoutMs, this.bodyTimeoutMs, this.keepAliveMs),
    );
  }

  /** A clock read once per sweep tick, good enough for keep-alive ages. */
  now(): number {
    return this.#clock || Date.now();
  }

  /**
   * Sends a request. With `cacheable`, the same `req` object always encodes to the same bytes,
   * built once (for a load generator's static requests).
   */
  dispatch(req: Http1Request, handler: Http1Handler, cacheable = false): void {
    let encoded: Buffer | undefined;
    if (cacheable && !isStream(req.body)) {
      encoded = this.#cache.get(req);
      if (!encoded) {
        const body = typeof req.body === 'string' ? Buffer.from(req.body) : (req.body ?? undefined);
        const head = encodeHead(this.hostHeader, req, body?.length);
        if (head instanceof Error) {
          handler.onResponseError(NOOP_CONTROLLER, head);
          return;
        }
        encoded = body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
        this.#cache.set(req, encoded);
      }
    }
    const p = new Pending(this, req, handler, encoded);
    if (this.#destroyed) {
      p.fail(codedError('the pool is closed', Http1Errors.DESTROYED));
      return;
    }
    const t = Math.min(
      req.headersTimeoutMs ?? this.headersTimeoutMs,
      req.bodyTimeoutMs ?? this.bodyTimeoutMs,
    );
    if (tickFor(t) < this.#tickMs) {
      this.#tickMs = tickFor(t);
      this.#stopSweeper();
    }
    this.#startSweeper();
    this.requeue(p);
  }

  /** Puts a request on a connection, or in the waiting line. */
  requeue(p: Pending): void {
    const c = this.#pick();
    if (c) c.send(p);
    else this.#waiting.push(p);
  }

  #pick(): Connection | undefined {
    const now = this.now();
    while (this.#idle.length > 0) {
      const c = this.#idle.pop() as Connection;
      if (c.socket && c.load === 0) {
        if (now - c.idleSince <= c.keepAliveMs) return c;
        // Idle too long: the server may be closing it right now; do not race it.
        c.socket.destroy();
      }
    }
    let least: Connection | undefined;
    for (const c of this.#slots) {
      if (!c.socket) return c;
      if (c.load < this.#pipelining && (!least || c.load < least.load)) least = c;
    }
    return least;
  }

  /** A connection has nothing in flight now. */
  idle(c: Connection): void {
    if (this.#waiting.length === 0) this.#idle.push(c);
  }

  /** A connection closed: it is no longer idle. */
  forget(c: Connection): void {
    const i = this.#idle.lastIndexOf(c);
    if (i !== -1) this.#idle.splice(i, 1);
  }

  unqueue(p: Pending): void {
    const i = this.#waiting.indexOf(p);
    if (i !== -1) this.#waiting.splice(i, 1);
  }

  /** Hands waiting requests to connections that became free. */
  drain(): void {
    while (this.#waiting.length > 0 && !this.#destroyed) {
      const c = this.#pick();
      if (!c) return;
      const p = this.#waiting.shift() as Pending;
      const i = this.#idle.lastIndexOf(c);
      if (i !== -1) this.#idle.splice(i, 1);
      c.send(p);
    }
  }

  #startSweeper(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      this.#clock = now;
      let open = 0;
      for (const c of this.#slots) {
        if (c.socket) {
          open++;
          c.sweep(this.#tickMs, now);
        }
      }
      if (open === 0 && this.#waiting.length === 0) this.#stopSweeper();
    }, this.#tickMs);
    this.#sweeper.unref();
  }

  #stopSweeper(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#clock = 0;
  }

  /** Connections currently open (for tests and metrics). */
  get openConnections(): number {
    let n = 0;
    for (const c of this.#slots) if (c.socket) n++;
    return n;
  }

  /** Lets requests in flight finish, then closes every connection; new requests fail. */
  async close(): Promise<void> {
    this.#destroyed = true;
    const err = codedError('the pool is closed', Http1Errors.DESTROYED);
    for (const p of this.#waiting.splice(0)) p.fail(err);
    while (this.#slots.some((c) => c.load > 0)) await new Promise((r) => setTimeout(r, 20));
    this.destroy();
  }

  /** Fails every request at once and closes every connection. */
  destroy(): void {
    this.#destroyed = true;
    const err = codedError('the pool is closed', Http1Errors.DESTROYED);
    for (const p of this.#waiting.splice(0)) p.fail(err);
    for (const c of this.#slots) c.destroy(err);
    this.#idle.length = 0;
    this.#stopSweeper();
  }
}

/** Sweep period for a timeout: fine enough to be within ~12% of it, never below 10 ms or above 1 s. */
function tickFor(timeoutMs: number): number {
  return Math.max(10, Math.min(1000, Math.floor(timeoutMs / 8)));
}

const NOOP_CONTROLLER: Http1Controller = { abort() {}, pause() {}, resume() {} };
