/**
 * A lean HTTP/1.1 client for the generator's max-throughput mode (closed model, no think time,
 * plain http). Why not undici here: undici rebuilds and latin1-encodes the request head on every
 * dispatch and parses every response's headers into an object; a saturating load generator spends
 * most of its CPU there, CPU the server under test on the same machine then lacks. This client
 * writes a pre-encoded request buffer per static request and only looks at the status line and the
 * framing headers (content-length, transfer-encoding, connection) of responses.
 *
 * Deliberately narrow: keep-alive connections that are always busy (so no idle-close races),
 * optional pipelining (responses come back in order), chunked and content-length bodies, bodies
 * delimited by close. Everything else (https, think time, the open model) uses undici.
 */
import { connect, type Socket } from 'node:net';

/** The callbacks a request gets, mirroring undici's DispatchHandler so Exchange serves both. */
export interface FastHandler {
  onRequestStart(controller: null): void;
  onResponseStart(controller: null, statusCode: number): void;
  onResponseData(controller: null, chunk: Buffer): void;
  /** Whether the body is wanted at all; when false no slice of it is made. */
  readonly wantsBody: boolean;
  onResponseEnd(): void;
  onResponseError(controller: null, err: Error): void;
}

export interface FastRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** Encodes a request once; static requests reuse the same buffer for the whole run. */
export function encodeRequest(host: string, req: FastRequest): Buffer {
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [k, v] of Object.entries(req.headers)) head += `${k}: ${v}\r\n`;
  const body =
    req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
  if (body) head += `content-length: ${body.length}\r\n`;
  else if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')
    head += 'content-length: 0\r\n';
  head += '\r\n';
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}

/** Parser states. */
const S = { head: 0, body: 1, chunkSize: 2, chunkData: 3, chunkCrlf: 4, trailers: 5, untilClose: 6 } as const;

class Connection {
  private socket: Socket | null = null;
  private connected = false;
  /** Requests written (or waiting for the socket to connect), oldest first. */
  private readonly queue: { handler: FastHandler; buf: Buffer; head: boolean }[] = [];
  private state: number = S.head;
  private headBuf: Buffer | null = null;
  private remaining = 0;
  private closeAfter = false;
  private lastError: Error | null = null;
  readonly pool: FastPool;

  constructor(pool: FastPool) {
    this.pool = pool;
  }

  get load(): number {
    return this.queue.length;
  }

  send(handler: FastHandler, buf: Buffer, isHead: boolean): void {
    this.queue.push({ handler, buf, head: isHead });
    if (!this.socket) this.open();
    else if (this.connected) this.write(handler, buf);
  }

  private write(handler: FastHandler, buf: Buffer): void {
    handler.onRequestStart(null);
    (this.socket as Socket).write(buf);
  }

  private open(): void {
    const socket = connect({ host: this.pool.host, port: this.pool.port, noDelay: true });
    this.socket = socket;
    this.connected = false;
    this.state = S.head;
    this.headBuf = null;
    this.closeAfter = false;
    this.lastError = null;
    this.stuckMs = 0;
    socket.on('connect', () => {
      this.connected = true;
      for (const q of this.queue) this.write(q.handler, q.buf);
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('timeout', () =>
      socket.destroy(Object.assign(new Error('response timeout'), { code: 'ETIMEDOUT' })),
    );
    socket.on('error', (err) => {
      this.lastError = err;
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onClose(socket: Socket): void {
    if (this.socket !== socket) return;
    // A body delimited by the end of the connection is complete now.
    if (this.state === S.untilClose && this.queue.length > 0) this.complete();
    this.socket = null;
    this.connected = false;
    const pending = this.queue.splice(0);
    const err =
      this.lastError ??
      Object.assign(new Error('connection closed before the response'), { code: 'ECONNRESET' });
    for (const q of pending) q.handler.onResponseError(null, err);
    this.pool.drain();
  }

  /** Watchdog state: bytes seen since the last check, and how long the queue has been stuck. */
  private progressed = false;
  private stuckMs = 0;

  /**
   * Called every second by the pool. A per-socket timeout would re-arm a timer on every read and
   * write; one check per second for all connections costs nothing on the hot path.
   */
  watchdog(intervalMs: number): void {
    if (this.queue.length === 0 || this.progressed) {
      this.stuckMs = 0;
      this.progressed = false;
      return;
    }
    this.stuckMs += intervalMs;
    if (this.stuckMs >= this.pool.timeoutMs && this.socket) {
      this.lastError = Object.assign(new Error('response timeout'), { code: 'ETIMEDOUT' });
      this.socket.destroy();
    }
  }

  private onData(chunk: Buffer): void {
    this.progressed = true;
    let buf = chunk;
    let pos = 0;
    while (pos < buf.length) {
      const current = this.queue[0];
      if (!current) {
        // Bytes nobody asked for: the stream is out of sync; start over on a new connection.
        this.socket?.destroy();
        return;
      }
      switch (this.state) {
        case S.head: {
          if (this.headBuf) {
            buf = Buffer.concat([this.headBuf, buf.subarray(pos)]);
            pos = 0;
            this.headBuf = null;
          }
          const end = buf.indexOf(HEAD_END, pos);
          if (end < 0) {
            this.headBuf = Buffer.from(buf.subarray(pos));
            return;
          }
          const head = buf.toString('latin1', pos, end);
          pos = end + 4;
          const status = Number(head.slice(9, 12));
          if (status >= 100 && status < 200) continue; // 100 Continue and friends: a final response follows
          current.handler.onResponseStart(null, status);
          this.closeAfter = /\r\nconnection:[ \t]*close/i.test(head);
          if (current.head || status === 204 || status === 304) {
            this.complete();
            continue;
          }
          if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
            this.state = S.chunkSize;
            continue;
          }
          const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
          if (cl) {
            this.remaining = Number(cl[1]);
            if (this.remaining === 0) this.complete();
            else this.state = S.body;
          } else this.state = S.untilClose;
          continue;
        }
        case S.body:
        case S.chunkData: {
          const n = Math.min(this.remaining, buf.length - pos);
          if (current.handler.wantsBody) current.handler.onResponseData(null, buf.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            if (this.state === S.body) this.complete();
            else this.state = S.chunkCrlf;
          }
          continue;
        }
        case S.chunkSize:
        case S.chunkCrlf:
        case S.trailers: {
          if (this.headBuf) {
            buf = Buffer.concat([this.headBuf, buf.subarray(pos)]);
            pos = 0;
            this.headBuf = null;
          }
          const eol = buf.indexOf(CRLF, pos);
          if (eol < 0) {
            this.headBuf = Buffer.from(buf.subarray(pos));
            return;
          }
          const line = buf.toString('latin1', pos, eol);
          pos = eol + 2;
          if (this.state === S.chunkCrlf) this.state = S.chunkSize;
          else if (this.state === S.chunkSize) {
            const size = Number.parseInt(line, 16);
            if (Number.isNaN(size)) {
              this.socket?.destroy();
              return;
            }
            if (size === 0) this.state = S.trailers;
            else {
              this.remaining = size;
              this.state = S.chunkData;
            }
          } else if (line === '') this.complete();
          continue;
        }
        case S.untilClose:
          if (current.handler.wantsBody) current.handler.onResponseData(null, buf.subarray(pos));
          return;
      }
    }
  }

  private complete(): void {
    const done = this.queue.shift();
    this.state = S.head;
    if (this.closeAfter) {
      // The server ends this connection; requests already written on it are retried on a new one.
      const socket = this.socket;
      this.socket = null;
      this.connected = false;
      socket?.destroy();
      done?.handler.onResponseEnd();
      const again = this.queue.splice(0);
      for (const q of again) this.send(q.handler, q.buf, q.head);
      return;
    }
    done?.handler.onResponseEnd();
    this.pool.drain();
  }

  destroy(): void {
    this.socket?.destroy();
  }
}

/** A fixed set of keep-alive connections; requests go to the least loaded one. */
export class FastPool {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  private readonly hostHeader: string;
  private readonly connections: Connection[];
  private readonly pipelining: number;
  private readonly waiting: { handler: FastHandler; buf: Buffer; head: boolean }[] = [];
  private readonly cache = new WeakMap<FastRequest, Buffer>();
  private next = 0;
  private readonly watchdogTimer: NodeJS.Timeout;

  constructor(origin: string, connections: number, pipelining: number, timeoutMs: number) {
    const url = new URL(origin);
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(url.port || 80);
    this.hostHeader = url.host;
    this.timeoutMs = timeoutMs;
    this.pipelining = pipelining;
    this.connections = Array.from({ length: connections }, () => new Connection(this));
    this.watchdogTimer = setInterval(() => {
      for (const c of this.connections) c.watchdog(1000);
    }, 1000);
    this.watchdogTimer.unref();
  }

  /** Sends a request; the same `req` object always encodes to the same cached bytes. */
  dispatch(req: FastRequest, handler: FastHandler, cacheable: boolean): void {
    let buf = cacheable ? this.cache.get(req) : undefined;
    if (!buf) {
      buf = encodeRequest(this.hostHeader, req);
      if (cacheable) this.cache.set(req, buf);
    }
    const head = req.method === 'HEAD';
    const n = this.connections.length;
    for (let i = 0; i < n; i++) {
      const c = this.connections[(this.next + i) % n] as Connection;
      if (c.load < this.pipelining) {
        this.next = (this.next + i + 1) % n;
        c.send(handler, buf, head);
        return;
      }
    }
    this.waiting.push({ handler, buf, head });
  }

  /** Called after a response completes: hands a waiting request to a free connection. */
  drain(): void {
    while (this.waiting.length > 0) {
      const c = this.connections.find((x) => x.load < this.pipelining);
      if (!c) return;
      const w = this.waiting.shift() as { handler: FastHandler; buf: Buffer; head: boolean };
      c.send(w.handler, w.buf, w.head);
    }
  }

  destroy(): void {
    const err = Object.assign(new Error('aborted'), { code: 'ABORTED' });
    for (const w of this.waiting.splice(0)) w.handler.onResponseError(null, err);
    for (const c of this.connections) c.destroy();
    clearInterval(this.watchdogTimer);
  }
}
