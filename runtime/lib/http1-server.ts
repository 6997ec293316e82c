/**
 * A lean HTTP/1.1 server: node's own llhttp binding reading each connection in C++ (as node:http
 * does), with plain request and response objects in place of IncomingMessage, ServerResponse and
 * their stream machinery. The gateway's public listener runs on it because that machinery was the
 * largest cost left in a proxied request: measured side by side on this machine, a bare proxy
 * answered through node:http spent ~50 µs of CPU per request, the same proxy on this path ~36
 * (docs/decisions/0004).
 *
 * What it keeps of node:http, with the same parser and so the same strictness (no lenient flags:
 * CR, LF or NUL in a header, a duplicate content-length, transfer-encoding with content-length,
 * bad chunk framing are all parse errors): the 16 KiB head limit (431) and node's other parse
 * errors (400), reported through `clientError` as node reports them; a head deadline and a whole-
 * request deadline, checked by one sweep (408); keep-alive and `connection: close`, HTTP/1.0;
 * pipelined requests answered in order, with reading stopped while too many answers are pending;
 * request bodies as streams with backpressure, chunked or by length; `Expect: 100-continue` (and
 * 417 for any other expectation); 400 for an HTTP/1.1 request without `host`; a peer's half-close
 * answered before the connection ends. CONNECT and protocol upgrades are refused by closing the
 * connection (node:http without an `upgrade` listener serves an `Upgrade` request as a plain one;
 * so does this). Trailers of a chunked request are read and dropped.
 *
 * `_http_common`'s HTTPParser is node's internal parser binding, not a documented API; node's own
 * HTTP client and server use it, and tests here pin the behaviour this server relies on.
 */
import type { EventEmitter } from 'node:events';
import { type IncomingHttpHeaders, type OutgoingHttpHeaders, STATUS_CODES } from 'node:http';
import { createRequire } from 'node:module';
import { Server, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { type BodySource, InboundRequest } from './http1-server-request.ts';
import { type AnswerSink, InboundResponse } from './http1-server-response.ts';

export { InboundRequest } from './http1-server-request.ts';
export { InboundResponse } from './http1-server-response.ts';

/**
 * The request a handler may rely on with either server (node:http's IncomingMessage meets it too),
 * so one handler serves both and the choice stays a setting.
 */
export interface ServerRequest extends Readable {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly socket: Socket;
  readonly complete: boolean;
}

/** The answer a handler may rely on with either server (node:http's ServerResponse meets it too). */
export interface ServerResponse extends EventEmitter {
  statusCode: number;
  shouldKeepAlive: boolean;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  setHeader(name: string, value: string | number | readonly string[]): this;
  hasHeader(name: string): boolean;
  writeHead(status: number, headers?: OutgoingHttpHeaders): this;
  write(chunk: string | Buffer): boolean;
  end(chunk?: string | Buffer): this;
  destroy(err?: Error): this;
}

interface ParserBinding {
  new (): Parser;
  REQUEST: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
}
interface Parser {
  [callback: number]: unknown;
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  consume(handle: unknown): void;
  unconsume(): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error;
  close(): void;
}
const { HTTPParser, methods } = createRequire(import.meta.url)('_http_common') as {
  HTTPParser: ParserBinding;
  methods: string[];
};

/** llhttp's method numbers (its enum is not node's `methods` order throughout), learned from the parser. */
const METHOD_NAMES: (string | undefined)[] = (() => {
  const names: (string | undefined)[] = [];
  const probe = new HTTPParser();
  probe.initialize(HTTPParser.REQUEST, {}, 0, 0);
  probe[HTTPParser.kOnHeadersComplete] = (_a: number, _b: number, _h: unknown, method: number) => {
    names[method] = current;
    return 1;
  };
  probe[HTTPParser.kOnMessageComplete] = () => {};
  let current = '';
  for (const name of methods) {
    current = name;
    probe.execute(Buffer.from(`${name} / HTTP/1.1\r\nhost: x\r\n\r\n`, 'latin1'));
  }
  probe.close();
  return names;
})();

/** node's limit on header lines kept per request (more are dropped, as node drops them). */
const MAX_HEADER_PAIRS = 2000;
/**
 * Reading stops while this many answers are pending on one connection (a pipelining flood). The
 * requests already in the read that crossed it are still served, as node:http serves them: the
 * parser finishes the bytes it was given, so one read (64 KiB) bounds the overshoot.
 */
const MAX_PENDING_ANSWERS = 32;

export interface Http1ServerOptions {
  /** Time to receive a request's whole head; 0 = none. Default 60 s, as node. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included; 0 = none. Default 300 s, as node. */
  requestTimeoutMs?: number;
  /** How often the two deadlines are checked. Default 1 s. */
  checkIntervalMs?: number;
}

export type Http1RequestListener = (req: InboundRequest, res: InboundResponse) => void;

/** The error a missed deadline is reported with through `clientError` (node's code). */
function requestTimeoutError(): Error {
  return Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
}

const DEFAULT_ANSWERS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/**
 * A net.Server speaking HTTP/1.1: `connection` listeners run first (others can be added, or the
 * connection handed elsewhere before this server reads it, as protocol-split.ts does), then the
 * listener gets each request. `clientError(err, socket)` is emitted for parse errors and missed
 * deadlines while no answer is part-way out on that connection; without a listener the socket
 * gets node's default answer. Either way the connection closes.
 */
export class Http1Server extends Server {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly #listener: Http1RequestListener;
  readonly #connections = new Set<Connection>();
  readonly #checkIntervalMs: number;
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: Http1ServerOptions, listener: Http1RequestListener) {
    // Half-open sockets are kept so that a request sent before the peer's FIN is still answered.
    super({ noDelay: true, allowHalfOpen: true });
    this.headersTimeoutMs = options.headersTimeoutMs ?? 60_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 300_000;
    this.#checkIntervalMs = options.checkIntervalMs ?? 1000;
    this.#listener = listener;
    this.on('connection', (socket: Socket) => {
      if (socket.destroyed) return;
      const conn = new Connection(this, socket);
      this.#connections.add(conn);
      socket.once('close', () => this.#connections.delete(conn));
      this.#sweep ??= setInterval(() => this.#checkDeadlines(), this.#checkIntervalMs).unref();
    });
  }

  /** For Connection: hands a request to the listener. */
  serve(req: InboundRequest, res: InboundResponse): void {
    this.#listener(req, res);
  }

  /** For Connection: a parse error or a missed deadline. */
  clientError(err: Error & { code?: string }, socket: Socket): void {
    if (this.emit('clientError', err, socket)) return;
    if (socket.writable) {
      const status = DEFAULT_ANSWERS[err.code ?? ''] ?? 400;
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
    }
    socket.destroy();
  }

  /** Closes the connections with no request in progress (node:http's method of the same name). */
  closeIdleConnections(): void {
    for (const conn of this.#connections) if (conn.idle) conn.socket.destroy();
  }

  /** Closes every connection. */
  closeAllConnections(): void {
    for (const conn of this.#connections) conn.socket.destroy();
  }

  override close(callback?: (err?: Error) => void): this {
    super.close(callback);
    this.closeIdleConnections();
    return this;
  }

  #checkDeadlines(): void {
    if (this.#connections.size === 0 && !this.listening) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
      return;
    }
    const now = Date.now();
    for (const conn of this.#connections) {
      const overdue = conn.overdue(now, this.headersTimeoutMs, this.requestTimeoutMs);
      if (overdue) conn.fail(requestTimeoutError());
    }
  }
}

interface StreamHandle {
  reading: boolean;
  readStart(): number;
  readStop(): number;
  isStreamBase?: boolean;
  _consumed?: boolean;
}

/** One client connection: its parser, the answers it owes in order, the request whose body it reads. */
class Connection implements AnswerSink, BodySource {
  readonly socket: Socket;
  readonly #server: Http1Server;
  readonly #parser: Parser;
  readonly #handle: StreamHandle | undefined;
  /** Owed answers, oldest first; the first is the one writing. */
  readonly #answers: InboundResponse[] = [];
  /** The request whose body is being parsed. */
  #reading: InboundRequest | undefined;
  /** Header lines and URL of a head that came in several reads. */
  #pairs: string[] = [];
  #url = '';
  /** When the request being received began (0 = none in progress), and whether its head is done. */
  #begunAt = 0;
  #inHead = false;
  #peerEnded = false;
  #closing = false;
  #paused = false;
  #failed = false;

  constructor(server: Http1Server, socket: Socket) {
    this.socket = socket;
    this.#server = server;
    // A silent new connection is under the head deadline too, as in node:http.
    this.#begunAt = Date.now();
    this.#inHead = true;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
    parser[HTTPParser.kOnMessageBegin] = () => this.#onMessageBegin();
    parser[HTTPParser.kOnHeaders] = (pairs: string[], url: string) => this.#onHeaders(pairs, url);
    parser[HTTPParser.kOnHeadersComplete] = (
      major: number,
      minor: number,
      pairs: string[] | undefined,
      method: number,
      url: string | undefined,
      _status: unknown,
      _message: unknown,
      upgrade: boolean,
      keepAlive: boolean,
    ) => this.#onHeadersComplete(major, minor, pairs, method, url, upgrade, keepAlive);
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => this.#reading?.pushBody(chunk);
    parser[HTTPParser.kOnMessageComplete] = () => this.#onMessageComplete();
    parser[HTTPParser.kOnExecute] = (ret: number | Error) => this.#onExecute(ret);
    this.#parser = parser;
    socket.on('error', () => {});
    socket.on('end', () => this.#onPeerEnd());
    socket.on('close', () => this.#onClose());
    socket.on('drain', () => this.#answers[0]?.drained());
    // Bytes already taken off the socket (a protocol sniffer's, put back with unshift) come as
    // 'data'; from then on the parser reads the socket's handle in C++, as node:http's does.
    socket.on('data', (chunk: Buffer) => this.#onExecute(this.#parser.execute(chunk)));
    const handle = (socket as unknown as { _handle?: StreamHandle })._handle;
    if (handle?.isStreamBase && !handle._consumed) {
      handle._consumed = true;
      parser.consume(handle);
      this.#handle = handle;
    }
  }

  /** No request in progress and no answer owed. */
  get idle(): boolean {
    return this.#begunAt === 0 && this.#answers.length === 0;
  }

  /** Whether the request being received has missed its deadline. */
  overdue(now: number, headersMs: number, requestMs: number): boolean {
    if (this.#begunAt === 0) return false;
    const age = now - this.#begunAt;
    return (this.#inHead && headersMs > 0 && age > headersMs) || (requestMs > 0 && age > requestMs);
  }

  pauseReading(): void {
    this.#paused = true;
    const h = this.#handle;
    if (h) {
      if (h.reading) {
        h.reading = false;
        h.readStop();
      }
    } else this.socket.pause();
  }

  resumeReading(): void {
    if (!this.#paused || this.#closing) return;
    this.#paused = false;
    const h = this.#handle;
    if (h) {
      if (!h.reading && !this.socket.destroyed) {
        h.reading = true;
        h.readStart();
      }
    } else this.socket.resume();
  }

  answered(res: InboundResponse, last: boolean): void {
    const answers = this.#answers;
    if (answers[0] !== res) return;
    answers.shift();
    process.nextTick(afterAnswer, res);
    if (last || (this.#peerEnded && answers.length === 0 && this.#begunAt === 0)) {
      this.#closing = true;
      this.socket.end();
      // Requests pipelined after the last answer are not served; their handlers learn it.
      for (const rest of answers.splice(0)) process.nextTick(closeAnswer, rest);
      return;
    }
    const next = answers[0];
    if (next) next.activate();
    if (this.#paused && answers.length <= MAX_PENDING_ANSWERS / 2 && this.#reading === undefined) {
      this.resumeReading();
    }
  }

  #onMessageBegin(): void {
    this.#begunAt = Date.now();
    this.#inHead = true;
  }

  #onHeaders(pairs: string[], url: string): void {
    for (const p of pairs) if (this.#pairs.length < MAX_HEADER_PAIRS * 2) this.#pairs.push(p);
    this.#url += url;
  }

  #onHeadersComplete(
    major: number,
    minor: number,
    given: string[] | undefined,
    methodIndex: number,
    givenUrl: string | undefined,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    this.#inHead = false;
    let pairs = given;
    if (pairs === undefined) {
      pairs = this.#pairs;
      this.#pairs = [];
    } else if (pairs.length > MAX_HEADER_PAIRS * 2) pairs.length = MAX_HEADER_PAIRS * 2;
    let url = givenUrl;
    if (url === undefined) {
      url = this.#url;
      this.#url = '';
    }
    const method = METHOD_NAMES[methodIndex];
    if (this.#closing) return 1;
    if (method === undefined || method === 'PRI' || (upgrade && method === 'CONNECT')) {
      // No tunnels and no HTTP/2 by upgrade here (node:http closes these too without a listener).
      this.socket.destroy();
      return 1;
    }
    const socket = this.socket;
    const req = new InboundRequest(socket, this, method, url, pairs);
    const answers = this.#answers;
    const res = new InboundResponse(
      this,
      method,
      // HTTP/1.0 and 0.9 know no chunked coding (node's test for it).
      major < 1 || minor < 1,
      keepAlive,
      answers.length === 0,
    );
    res.request = req;
    answers.push(res);
    if (req.hasBody) this.#reading = req;
    if (answers.length >= MAX_PENDING_ANSWERS) this.pauseReading();
    if (major === 1 && minor === 1) {
      if (req.headers.host === undefined) {
        // RFC 9112 §3.2: a request without host is refused (node:http's requireHostHeader).
        res.writeHead(400, { connection: 'close' });
        res.end();
        return 0;
      }
      const expect = req.headers.expect;
      if (expect !== undefined) {
        if (!/(?:^|\W)100-continue(?:$|\W)/i.test(expect as string)) {
          res.writeHead(417);
          res.end();
          return 0;
        }
        res.writeContinue();
      }
    }
    this.#server.serve(req, res);
    return 0;
  }

  #onMessageComplete(): void {
    this.#begunAt = 0;
    this.#inHead = false;
    const req = this.#reading;
    this.#reading = undefined;
    req?.endBody();
    if (this.#paused && this.#answers.length < MAX_PENDING_ANSWERS) this.resumeReading();
  }

  /**
   * A parse error or a missed deadline ends the connection. It is reported (`clientError`, whose
   * listener may answer) only while no answer is part-way out: bytes of a second answer inside
   * one already streaming would corrupt what the client reads (node:http spares its peer the same way).
   */
  fail(err: Error & { code?: string }): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#closing = true;
    if (this.#answers[0]?.started) this.socket.destroy();
    else this.#server.clientError(err, this.socket);
  }

  #onExecute(ret: number | Error): void {
    if (typeof ret === 'number') return;
    const err = ret as Error & { code?: string; reason?: string };
    if (typeof err.reason === 'string') err.message = `Parse Error: ${err.reason}`;
    this.fail(err);
  }

  #onPeerEnd(): void {
    const ret = this.#parser.finish();
    if (ret instanceof Error) {
      this.#onExecute(ret);
      return;
    }
    this.#peerEnded = true;
    // The peer sends nothing more: answer what it asked, then end our side too.
    if (this.#answers.length === 0) this.socket.end();
  }

  #onClose(): void {
    this.#closing = true;
    const reading = this.#reading;
    this.#reading = undefined;
    if (reading && !reading.complete) {
      reading.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    }
    for (const res of this.#answers.splice(0)) res.closed();
    if (this.#handle) this.#parser.unconsume();
    // Not from inside a parser callback (this may run in one): the parser is freed after.
    setImmediate(() => this.#parser.close());
  }
}

/** After an answer is handed to the socket: an unread request body is discarded, then `close`. */
function afterAnswer(res: InboundResponse): void {
  const req = res.request;
  if (req && !req.complete && !req.destroyed && req.readableFlowing !== true) req.resume();
  res.closed();
}

function closeAnswer(res: InboundResponse): void {
  res.closed();
}
