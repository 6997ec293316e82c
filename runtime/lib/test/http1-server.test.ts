/**
 * The lean HTTP/1.1 server (http1-server.ts) against node:http, differentially: both servers run the
 * same handler, each test sends the same raw bytes to each over a plain socket on 127.0.0.1 and
 * compares what came back (status lines, headers with names lower-cased and `date` blanked, decoded
 * bodies, the framing used, whether the connection closed). The lean server claims to keep
 * node:http's behaviour on the wire (see the header comment of http1-server.ts), so any difference
 * is a finding; where the lean server deliberately differs, the test says why and pins the lean
 * answer explicitly.
 *
 * Neither server has a `clientError` listener: node's default answers to bad requests (400, 408,
 * 431, then close) are part of what is compared.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server as NodeHttpServer } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Http1Server, type ServerRequest, type ServerResponse } from '../http1-server.ts';

// Short deadlines so the timeout cases run quickly; node requires requestTimeout >= headersTimeout.
const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 3000;
const CHECK_INTERVAL_MS = 100;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The handler both servers run, routed by path.
// ---------------------------------------------------------------------------------------------

/** Answers a test keeps in flight (`/hold?id=…`, `/hold-stream?id=…`) until it ends them itself. */
const held = new Map<string, ServerResponse>();

function handler(req: ServerRequest, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://test');
  const q = url.searchParams;
  switch (url.pathname) {
    case '/plain':
      // Whole answer, no content-length from the handler: the server frames it.
      res.end(`hello ${req.method} ${req.url}`);
      return;
    case '/len':
      res.writeHead(200, { 'content-length': '2', 'content-type': 'text/plain' });
      res.end('ok');
      return;
    case '/stream':
      // Streamed in several writes (one of them empty, which must not end a chunked body early),
      // across turns of the event loop; non-ASCII so chunk sizes must be counted in bytes.
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.write('one,');
      setImmediate(() => {
        res.write('');
        res.write('zwei—drei,');
        setTimeout(() => res.end('four'), 5);
      });
      return;
    case '/status':
      // 204 and 304 carry no body whatever the handler passes to end().
      res.writeHead(Number(q.get('s')), { etag: '"v1"' });
      res.end('this must not be sent');
      return;
    case '/utf8':
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('grüße — ✓ 日本語 🎉');
      return;
    case '/slow':
      setTimeout(() => res.end(`tag=${q.get('tag')}`), Number(q.get('ms') ?? 0));
      return;
    case '/echo':
      // Read with async iteration.
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        res.setHeader('x-complete', String(req.complete));
        res.end(Buffer.concat(chunks));
      })().catch(() => res.destroy());
      return;
    case '/echo-data': {
      // Read with 'data' events.
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
      req.on('error', () => res.destroy());
      return;
    }
    case '/big':
      // Reads nothing for a while: with backpressure the server stops reading the socket, so what
      // it holds for the request stays far below what the client sent (4 MiB).
      setTimeout(() => {
        const backpressured = req.readableLength < MiB;
        void (async () => {
          const hash = createHash('sha256');
          let bytes = 0;
          for await (const c of req) {
            hash.update(c as Buffer);
            bytes += (c as Buffer).length;
          }
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), backpressured }));
        })().catch(() => res.destroy());
      }, 300);
      return;
    case '/ignore':
      // Answers without reading the request's body: the server must skip it to read the next request.
      res.end('body not read');
      return;
    case '/headers':
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
      return;
    case '/bad-header': {
      let refused = 'nothing thrown';
      try {
        res.writeHead(200, { 'x-bad': 'one\ntwo' });
      } catch (err) {
        refused = `${(err as Error).name} ${(err as { code?: string }).code}`;
      }
      if (refused === 'nothing thrown') {
        res.end(refused);
        return;
      }
      // Nothing was sent by the refused writeHead, so a proper answer can still be given.
      const sentBefore = res.headersSent;
      res.writeHead(500, { 'x-error': refused });
      res.end(`headersSent after the refused writeHead: ${sentBefore}`);
      return;
    }
    case '/hold':
      held.set(q.get('id') ?? '', res);
      return;
    case '/hold-stream':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      held.set(q.get('id') ?? '', res);
      return;
    default:
      res.writeHead(404);
      res.end('no route');
  }
}

// ---------------------------------------------------------------------------------------------
// The two servers.
// ---------------------------------------------------------------------------------------------

let nodeServer: NodeHttpServer;
let leanServer: Http1Server;
let nodePort: number;
let leanPort: number;

async function listen(server: NodeHttpServer | Http1Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  nodeServer = createServer(
    {
      optimizeEmptyRequests: true,
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: CHECK_INTERVAL_MS,
      keepAliveTimeout: 0,
    },
    handler,
  );
  leanServer = new Http1Server(
    {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      checkIntervalMs: CHECK_INTERVAL_MS,
    },
    handler,
  );
  nodePort = await listen(nodeServer);
  leanPort = await listen(leanServer);
});

afterAll(async () => {
  for (const server of [nodeServer, leanServer]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

// ---------------------------------------------------------------------------------------------
// The client side: a raw socket that records everything it receives.
// ---------------------------------------------------------------------------------------------

const clients = new Set<Client>();

afterEach(() => {
  for (const c of clients) c.socket.destroy();
  clients.clear();
  for (const res of held.values()) res.destroy();
  held.clear();
});

/** One answer as read off the wire, in the form compared between the servers. */
interface Answer {
  /** The status line as sent. */
  status: string;
  /** Names lower-cased (node writes `Content-Length`, the lean server `content-length`), sorted by
   * name with repeated names kept in order; `date` blanked once checked to be a date. */
  headers: [string, string][];
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** The decoded body (UTF-8). */
  body: string;
  complete: boolean;
}

/** What one server answered to one exchange. */
interface Outcome {
  answers: Answer[];
  /** Bytes after the last answer that parse as no answer (latin1). */
  rest: string;
  /** The server ended or reset the connection. */
  closed: boolean;
  /** Everything received, for failure messages. */
  raw: string;
  error: string | undefined;
}

function normaliseHeaders(lines: string[]): [string, string][] {
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    return [name, name === 'date' && !Number.isNaN(Date.parse(value)) ? '<date>' : value];
  });
  return headers.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Parses the answers in `buf` as a client would (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and
 * 304; chunked; content-length; else up to the end of the connection. `methods` are the methods of
 * the requests in order (GET when not given); an interim (1xx) answer is listed as an answer of its
 * own. Stops at the first thing that is not a well-formed answer and leaves it in `rest`.
 */
function parseAnswers(
  buf: Buffer,
  closed: boolean,
  methods: readonly string[] = [],
): { answers: Answer[]; rest: Buffer } {
  const answers: Answer[] = [];
  let pos = 0;
  let finals = 0;
  while (pos < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd === -1) break;
    const [statusLine = '', ...lines] = buf.toString('latin1', pos, headEnd).split('\r\n');
    if (!/^HTTP\/1\.[01] \d{3}/.test(statusLine)) break;
    const headers = normaliseHeaders(lines);
    const header = (name: string) => headers.find(([n]) => n === name)?.[1];
    const status = Number(statusLine.slice(9, 12));
    const method = status >= 200 ? (methods[finals++] ?? 'GET') : 'interim';
    const answer: Answer = { status: statusLine, headers, framing: 'none', body: '', complete: true };
    answers.push(answer);
    let p = headEnd + 4;
    if (status < 200 || status === 204 || status === 304 || method === 'HEAD') {
      pos = p;
      continue;
    }
    const te = header('transfer-encoding');
    const cl = header('content-length');
    if (te !== undefined && /chunked/i.test(te)) {
      answer.framing = 'chunked';
      const parts: Buffer[] = [];
      answer.complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', p);
        if (lineEnd === -1) break;
        const sizeText = (buf.toString('latin1', p, lineEnd).split(';')[0] ?? '').trim();
        if (!/^[0-9a-f]+$/i.test(sizeText)) break;
        const size = Number.parseInt(sizeText, 16);
        if (size === 0) {
          const trailerEnd = buf.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd === -1) break;
          p = trailerEnd + 4;
          answer.complete = true;
          break;
        }
        if (buf.length < lineEnd + 2 + size + 2) break;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      answer.body = Buffer.concat(parts).toString('utf8');
      pos = p;
      if (!answer.complete) break;
    } else if (cl !== undefined) {
      answer.framing = 'length';
      const end = p + Number(cl);
      answer.body = buf.toString('utf8', p, Math.min(end, buf.length));
      answer.complete = end <= buf.length;
      pos = Math.min(end, buf.length);
      if (!answer.complete) break;
    } else {
      answer.framing = 'close';
      answer.body = buf.toString('utf8', p);
      answer.complete = closed;
      pos = buf.length;
    }
  }
  return { answers, rest: buf.subarray(pos) };
}

/** A raw connection to a server: keeps every byte received and whether the server closed it. */
class Client {
  readonly socket: Socket;
  received = Buffer.alloc(0);
  closed = false;
  error: string | undefined;
  readonly #wakers = new Set<() => void>();

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
      this.#wake();
    });
    socket.on('end', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      this.error = err.code ?? err.message;
    });
  }

  write(bytes: string | Buffer): void {
    if (!this.socket.destroyed)
      this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Complete answers received so far (interim ones included). */
  completeAnswers(methods?: readonly string[]): number {
    return parseAnswers(this.received, this.closed, methods).answers.filter((a) => a.complete).length;
  }

  /** Resolves true once `done()` holds, false if it still does not after `timeoutMs`. */
  until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!done()) return;
        finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        resolve(ok);
      };
      this.#wakers.add(check);
    });
  }

  /** Waits until the connection closes or nothing has arrived for `ms`. */
  async quiet(ms: number): Promise<void> {
    for (;;) {
      const seen = this.received.length;
      const changed = await this.until(() => this.closed || this.received.length !== seen, ms);
      if (!changed || this.closed) return;
    }
  }

  outcome(methods?: readonly string[]): Outcome {
    const { answers, rest } = parseAnswers(this.received, this.closed, methods);
    const raw = this.received.toString('latin1');
    return { answers, rest: rest.toString('latin1'), closed: this.closed, raw, error: this.error };
  }

  #wake(): void {
    for (const w of [...this.#wakers]) w();
  }
}

async function open(port: number): Promise<Client> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  const client = new Client(socket);
  clients.add(client);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return client;
}

/**
 * A step of an exchange: bytes to write, a pause, waiting for a number of complete answers (or for
 * the received bytes to meet a condition) before going on, or `'end'` to half-close.
 */
type Step =
  | string
  | Buffer
  | 'end'
  | { wait: number }
  | { answers: number }
  | { until: (received: string) => boolean };

interface ExchangeOptions {
  /** Methods of the requests in order, for parsing (HEAD answers have no body). */
  methods?: string[];
  /** Complete answers to wait for after the last step (interim ones count). */
  answers?: number;
  /** Wait for the server to close the connection (up to timeoutMs). */
  close?: boolean;
  /** After the rest: how long with nothing arriving ends the exchange. */
  quietMs?: number;
  /** Upper bound for each wait (never asserted as a timing, only a bound). */
  timeoutMs?: number;
}

/** Sends `steps` on a new connection to `port` and collects what comes back. */
async function exchange(port: number, steps: Step[], opts: ExchangeOptions = {}): Promise<Outcome> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const c = await open(port);
  for (const step of steps) {
    if (typeof step === 'string' || Buffer.isBuffer(step)) {
      if (step === 'end') c.socket.end();
      else c.write(step);
    } else if ('wait' in step) await sleep(step.wait);
    else if ('answers' in step) {
      await c.until(() => c.closed || c.completeAnswers(opts.methods) >= step.answers, timeoutMs);
    } else await c.until(() => c.closed || step.until(c.received.toString('latin1')), timeoutMs);
  }
  const { answers } = opts;
  if (answers !== undefined) {
    await c.until(() => c.closed || c.completeAnswers(opts.methods) >= answers, timeoutMs);
  }
  if (opts.close) await c.until(() => c.closed, timeoutMs);
  await c.quiet(opts.quietMs ?? 150);
  return c.outcome(opts.methods);
}

interface Pair {
  node: Outcome;
  lean: Outcome;
}

/** The same exchange with both servers, side by side. */
async function both(steps: Step[], opts: ExchangeOptions = {}): Promise<Pair> {
  const [node, lean] = await Promise.all([exchange(nodePort, steps, opts), exchange(leanPort, steps, opts)]);
  return { node, lean };
}

function rawOf(o: Outcome): string {
  const raw = o.raw.length > 3000 ? `${o.raw.slice(0, 3000)}…(${o.raw.length} bytes)` : o.raw;
  return `${JSON.stringify(raw)} closed=${o.closed}${o.error ? ` error=${o.error}` : ''}`;
}

function compared(o: Outcome) {
  return { answers: o.answers, rest: o.rest, closed: o.closed };
}

/** The lean server answered exactly as node:http did. */
function expectSame({ node, lean }: Pair): void {
  expect(
    compared(lean),
    `the lean server differs from node:http\n  node:http: ${rawOf(node)}\n  lean:      ${rawOf(lean)}`,
  ).toEqual(compared(node));
}

/** Shorthand for a request head (latin1). */
function request(method: string, path: string, headers: string[] = ['Host: test'], version = '1.1'): string {
  return `${method} ${path} HTTP/${version}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}

function statuses(o: Outcome): string[] {
  return o.answers.map((a) => a.status);
}

function header(a: Answer | undefined, name: string): string | undefined {
  return a?.headers.find(([n]) => n === name)?.[1];
}

// ---------------------------------------------------------------------------------------------
// The cases.
// ---------------------------------------------------------------------------------------------

describe('keep-alive, HEAD, HTTP/1.0, connection: close', () => {
  it('answers two GETs on one keep-alive connection', async () => {
    const pair = await both([request('GET', '/plain?n=1'), { answers: 1 }, request('GET', '/plain?n=2')], {
      answers: 2,
    });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(['hello GET /plain?n=1', 'hello GET /plain?n=2']);
    expect(header(pair.lean.answers[0], 'connection')).toBe('keep-alive');
    expect(pair.lean.closed).toBe(false);
  });

  it('answers HEAD without a body (and the connection goes on)', async () => {
    const pair = await both([request('HEAD', '/plain'), request('GET', '/plain')], {
      methods: ['HEAD', 'GET'],
      answers: 2,
    });
    expectSame(pair);
    expect(pair.lean.answers[0]?.framing).toBe('none');
    expect(pair.lean.answers[1]?.body).toBe('hello GET /plain');
    expect(pair.lean.rest).toBe('');
  });

  it('closes after an HTTP/1.0 request without keep-alive', async () => {
    const pair = await both([request('GET', '/len', [], '1.0')], { answers: 1, close: true });
    expectSame(pair);
    expect(header(pair.lean.answers[0], 'connection')).toBe('close');
    expect(pair.lean.closed).toBe(true);
  });

  it('keeps an HTTP/1.0 connection with `Connection: keep-alive` (an answer with a length)', async () => {
    const req = request('GET', '/len', ['Connection: keep-alive'], '1.0');
    const pair = await both([req, { answers: 1 }, req], { answers: 2 });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(['ok', 'ok']);
    expect(pair.lean.closed).toBe(false);
  });

  it('frames a whole HTTP/1.0 answer by content-length, and keeps alive if asked (deliberate difference)', async () => {
    // node:http gives an HTTP/1.0 answer a content-length only if the handler set one: `end(body)`
    // alone goes out close-delimited and the connection closes even with `Connection: keep-alive`.
    // The lean server gives every whole answer a content-length (http1-server-response.ts), which
    // lets an HTTP/1.0 keep-alive connection live on. Both are valid HTTP/1.0.
    const plain = await both([request('GET', '/plain', [], '1.0')], { answers: 1, close: true });
    expect(plain.node.answers[0]?.framing).toBe('close');
    expect(plain.lean.answers[0]).toEqual({
      status: 'HTTP/1.1 200 OK',
      headers: [
        ['connection', 'close'],
        ['content-length', '16'],
        ['date', '<date>'],
      ],
      framing: 'length',
      body: 'hello GET /plain',
      complete: true,
    });
    expect(plain.lean.closed).toBe(true);

    const req = request('GET', '/plain', ['Connection: keep-alive'], '1.0');
    const kept = await both([req, { answers: 1 }, req], { answers: 2 });
    expect(kept.node.answers).toHaveLength(1);
    expect(kept.node.closed).toBe(true);
    expect(kept.lean.answers.map((a) => [a.body, header(a, 'connection'), a.framing])).toEqual([
      ['hello GET /plain', 'keep-alive', 'length'],
      ['hello GET /plain', 'keep-alive', 'length'],
    ]);
    expect(kept.lean.closed).toBe(false);
  });

  it('answers a request line without a version (HTTP/0.9) as HTTP/1.0: never chunked, then closes', async () => {
    // llhttp takes `GET /path` with no version as HTTP/0.9 and node:http serves it; a streamed
    // answer must not be chunked (an HTTP/1.0-or-older client knows no chunked coding).
    const pair = await both(['GET /stream\r\nHost: test\r\n\r\n'], { answers: 1, close: true });
    expectSame(pair);
    expect(pair.lean.answers[0]?.framing).toBe('close');
    expect(pair.lean.answers[0]?.body).toBe('one,zwei—drei,four');
  });

  it('closes after an answer to `Connection: close` (a request pipelined after it is not served)', async () => {
    const pair = await both(
      [request('GET', '/plain?n=1', ['Host: test', 'Connection: close']) + request('GET', '/plain?n=2')],
      {
        answers: 1,
        close: true,
      },
    );
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(['hello GET /plain?n=1']);
    expect(header(pair.lean.answers[0], 'connection')).toBe('close');
    expect(pair.lean.closed).toBe(true);
  });
});

describe('answers as the handler writes them', () => {
  it('frames end(body) by content-length, with or without one from the handler', async () => {
    const pair = await both([request('GET', '/plain'), request('GET', '/len')], { answers: 2 });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => [a.framing, header(a, 'content-length'), a.body])).toEqual([
      ['length', '16', 'hello GET /plain'],
      ['length', '2', 'ok'],
    ]);
  });

  it('chunks a streamed HTTP/1.1 answer', async () => {
    const pair = await both([request('GET', '/stream'), request('GET', '/plain')], { answers: 2 });
    expectSame(pair);
    expect(pair.lean.answers[0]?.framing).toBe('chunked');
    expect(pair.lean.answers[0]?.body).toBe('one,zwei—drei,four');
    expect(pair.lean.answers[1]?.body).toBe('hello GET /plain');
  });

  it('delimits a streamed HTTP/1.0 answer by closing the connection, even with keep-alive asked', async () => {
    const plain = await both([request('GET', '/stream', [], '1.0')], { answers: 1, close: true });
    expectSame(plain);
    const kept = await both([request('GET', '/stream', ['Connection: keep-alive'], '1.0')], {
      answers: 1,
      close: true,
    });
    expectSame(kept);
    expect(kept.lean.answers[0]?.framing).toBe('close');
    expect(kept.lean.answers[0]?.body).toBe('one,zwei—drei,four');
    expect(kept.lean.closed).toBe(true);
  });

  it('sends no body with 204 and 304 (and the connection goes on)', async () => {
    const pair = await both(
      [request('GET', '/status?s=204'), request('GET', '/status?s=304'), request('GET', '/len')],
      {
        answers: 3,
      },
    );
    expectSame(pair);
    expect(statuses(pair.lean)).toEqual([
      'HTTP/1.1 204 No Content',
      'HTTP/1.1 304 Not Modified',
      'HTTP/1.1 200 OK',
    ]);
    expect(pair.lean.answers[2]?.body).toBe('ok');
    expect(pair.lean.rest).toBe('');
  });

  it('sends a UTF-8 string body with its length in bytes', async () => {
    const pair = await both([request('GET', '/utf8'), request('GET', '/len')], { answers: 2 });
    expectSame(pair);
    expect(pair.lean.answers[0]?.body).toBe('grüße — ✓ 日本語 🎉');
    expect(header(pair.lean.answers[0], 'content-length')).toBe(
      String(Buffer.byteLength('grüße — ✓ 日本語 🎉')),
    );
  });

  it('refuses a header value with a newline in writeHead with a TypeError (ERR_INVALID_CHAR)', async () => {
    const pair = await both([request('GET', '/bad-header')], { answers: 1 });
    // node:http keeps the reason phrase of the refused writeHead(200) (its statusMessage is set
    // before the headers are checked) and so sends `500 OK`; the lean server sends the phrase of
    // the status it sends. Everything else must match.
    expect(pair.node.answers[0]?.status).toBe('HTTP/1.1 500 OK');
    const codeOnly = (o: Outcome): Outcome => ({
      ...o,
      answers: o.answers.map((a) => ({ ...a, status: a.status.slice(0, 12) })),
    });
    expectSame({ node: codeOnly(pair.node), lean: codeOnly(pair.lean) });
    expect(pair.lean.answers[0]?.status).toBe('HTTP/1.1 500 Internal Server Error');
    expect(header(pair.lean.answers[0], 'x-error')).toBe('TypeError ERR_INVALID_CHAR');
    expect(pair.lean.answers[0]?.body).toBe('headersSent after the refused writeHead: false');
  });
});

describe('pipelining', () => {
  it('answers pipelined requests in request order when the first is answered last', async () => {
    const bytes = request('GET', '/slow?ms=80&tag=first') + request('GET', '/slow?ms=0&tag=second');
    const pair = await both([bytes], { answers: 2 });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(['tag=first', 'tag=second']);
  });

  it('answers a flood of pipelined requests in order (reading pauses and resumes)', async () => {
    // Far more than the lean server's limit of pending answers (32), answered in reverse order,
    // and padded to well over one socket read (64 KiB) so that reading really stops and must resume.
    const n = 200;
    const pad = `X-Pad: ${'p'.repeat(1000)}`;
    let bytes = '';
    for (let i = 0; i < n; i++) {
      bytes += request('GET', `/slow?ms=${Math.floor((n - i) / 10)}&tag=${i}`, ['Host: test', pad]);
    }
    const pair = await both([bytes], { answers: n, timeoutMs: 10_000 });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(Array.from({ length: n }, (_, i) => `tag=${i}`));
  });
});

describe('request bodies', () => {
  it('reads a body framed by content-length', async () => {
    const pair = await both(
      [request('POST', '/echo', ['Host: test', 'Content-Length: 11']) + 'hello world', { answers: 1 }],
      { answers: 1 },
    );
    expectSame(pair);
    expect(pair.lean.answers[0]?.body).toBe('hello world');
    expect(header(pair.lean.answers[0], 'x-complete')).toBe('true');
  });

  it('reads a chunked body, across writes, with a chunk extension and a trailer', async () => {
    const head = request('POST', '/echo', ['Host: test', 'Transfer-Encoding: chunked']);
    const pair = await both(
      [
        head + '5\r\nhello\r\n',
        { wait: 20 },
        '6;ext=1\r\n wor',
        { wait: 20 },
        'ld\r\n0\r\nx-trailer: 1\r\n\r\n',
      ],
      { answers: 1 },
    );
    expectSame(pair);
    expect(pair.lean.answers[0]?.body).toBe('hello world');
  });

  it('reads a body with data events', async () => {
    const body = 'data-events-'.repeat(1000);
    const head = request('PUT', '/echo-data', ['Host: test', `Content-Length: ${body.length}`]);
    const pair = await both([head + body], { answers: 1 });
    expectSame(pair);
    expect(pair.lean.answers[0]?.body).toBe(body);
  });

  it('streams a body larger than 1 MiB with backpressure', async () => {
    const body = Buffer.alloc(4 * MiB);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 251;
    const head = request('POST', '/big', ['Host: test', `Content-Length: ${body.length}`]);
    const pair = await both([head, body], { answers: 1, timeoutMs: 10_000 });
    expectSame(pair);
    expect(JSON.parse(pair.lean.answers[0]?.body ?? '{}')).toEqual({
      bytes: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
      backpressured: true,
    });
  });

  it('skips a body the handler never reads and answers the next request', async () => {
    const body = 'x'.repeat(MiB);
    const bytes =
      request('POST', '/ignore', ['Host: test', `Content-Length: ${body.length}`]) +
      body +
      request('GET', '/plain');
    const pair = await both([bytes], { answers: 2, timeoutMs: 10_000 });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(['body not read', 'hello GET /plain']);
  });

  it('skips an unread chunked body and answers the next request', async () => {
    const bytes =
      request('POST', '/ignore', ['Host: test', 'Transfer-Encoding: chunked']) +
      '3\r\nabc\r\n0\r\n\r\n' +
      request('GET', '/plain');
    const pair = await both([bytes], { answers: 2 });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(['body not read', 'hello GET /plain']);
  });
});

describe('Expect', () => {
  it('sends `100 Continue` before the final answer to `Expect: 100-continue`', async () => {
    const head = request('POST', '/echo', ['Host: test', 'Expect: 100-continue', 'Content-Length: 5']);
    // The body only goes once the interim answer is in, as a client waiting for it would send it.
    const pair = await both([head, { answers: 1 }, 'hello'], { answers: 2 });
    expectSame(pair);
    expect(statuses(pair.lean)).toEqual(['HTTP/1.1 100 Continue', 'HTTP/1.1 200 OK']);
    expect(pair.lean.answers[1]?.body).toBe('hello');
  });

  it('answers 417 to any other expectation', async () => {
    const pair = await both(
      [request('GET', '/plain', ['Host: test', 'Expect: something-else']), request('GET', '/len')],
      {
        answers: 2,
      },
    );
    expectSame(pair);
    expect(statuses(pair.lean)[0]).toBe('HTTP/1.1 417 Expectation Failed');
  });
});

describe('refused requests (node default answers, no clientError listener)', () => {
  // Each is sent alone on a new connection; both servers must answer the same status line and close.
  const cases: [string, string, string][] = [
    ['HTTP/1.1 without host', request('GET', '/plain', []), 'HTTP/1.1 400 Bad Request'],
    ['a malformed request line', 'GET /plain HTPT/1.1\r\nHost: test\r\n\r\n', 'HTTP/1.1 400 Bad Request'],
    ['an unknown method', request('FROB', '/plain'), 'HTTP/1.1 400 Bad Request'],
    [
      'CR inside a header value',
      request('GET', '/plain', ['Host: test', 'X-A: one\rtwo']),
      'HTTP/1.1 400 Bad Request',
    ],
    [
      'LF inside a header value',
      request('GET', '/plain', ['Host: test', 'X-A: one\ntwo']),
      'HTTP/1.1 400 Bad Request',
    ],
    [
      'NUL inside a header value',
      request('GET', '/plain', ['Host: test', 'X-A: one\0two']),
      'HTTP/1.1 400 Bad Request',
    ],
    [
      'duplicate content-length with different values',
      request('POST', '/echo', ['Host: test', 'Content-Length: 1', 'Content-Length: 2']) + 'ab',
      'HTTP/1.1 400 Bad Request',
    ],
    [
      'transfer-encoding with content-length',
      request('POST', '/echo', ['Host: test', 'Transfer-Encoding: chunked', 'Content-Length: 5']) +
        '0\r\n\r\n',
      'HTTP/1.1 400 Bad Request',
    ],
    [
      'an obs-fold header line',
      request('GET', '/plain', ['Host: test', 'X-A: one', ' two']),
      'HTTP/1.1 400 Bad Request',
    ],
    [
      'a head bigger than 16 KiB',
      request('GET', '/plain', ['Host: test', `X-Big: ${'a'.repeat(17 * 1024)}`]),
      'HTTP/1.1 431 Request Header Fields Too Large',
    ],
    [
      'an invalid chunk size',
      request('POST', '/echo', ['Host: test', 'Transfer-Encoding: chunked']) + 'zz\r\nhello\r\n0\r\n\r\n',
      'HTTP/1.1 400 Bad Request',
    ],
  ];

  it.each(cases)('refuses %s', async (_name, bytes, status) => {
    const pair = await both([bytes], { answers: 1, close: true });
    expectSame(pair);
    expect(statuses(pair.lean)).toEqual([status]);
    expect(pair.lean.closed).toBe(true);
  });

  it('refuses a bad request after an answered one on the same connection', async () => {
    const pair = await both([request('GET', '/plain'), { answers: 1 }, 'GET /plain HTPT/1.1\r\n\r\n'], {
      answers: 2,
      close: true,
    });
    expectSame(pair);
    expect(statuses(pair.lean)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 400 Bad Request']);
  });

  it('does not write a default answer into an answer already under way', async () => {
    // node:http writes its 400 only when no answer on the connection has sent its head ("Caution
    // must be taken to avoid corrupting the remote peer", _http_server.js): here the first answer is
    // streaming, so the client must see it cut short, not a status line inside its chunked body.
    const pair = await both(
      [
        request('GET', '/hold-stream?id=stream'),
        { until: (received) => received.includes('first,') },
        'GET /plain HTPT/1.1\r\n\r\n',
      ],
      { close: true },
    );
    expectSame(pair);
    expect(pair.lean.answers).toHaveLength(1);
    expect(pair.lean.answers[0]?.complete).toBe(false);
    expect(pair.lean.rest).toBe('');
    expect(pair.lean.closed).toBe(true);
  });
});

describe('CONNECT and Upgrade', () => {
  it('closes the connection on CONNECT', async () => {
    const pair = await both([request('CONNECT', 'example.com:443', ['Host: example.com:443'])], {
      close: true,
    });
    expectSame(pair);
    expect(pair.lean.answers).toEqual([]);
    expect(pair.lean.closed).toBe(true);
  });

  it('serves an `Upgrade: websocket` request as a plain one without an upgrade listener', async () => {
    const upgrade = request('GET', '/plain?upgrade', [
      'Host: test',
      'Connection: Upgrade',
      'Upgrade: websocket',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ]);
    const pair = await both([upgrade, { answers: 1 }, request('GET', '/plain?after')], { answers: 2 });
    expectSame(pair);
    expect(pair.lean.answers[0]?.status).toBe('HTTP/1.1 200 OK');
    expect(pair.lean.answers[0]?.body).toBe('hello GET /plain?upgrade');
  });
});

describe('deadlines', () => {
  it('answers 408 to a head that stalls, and to a connection that sends nothing', async () => {
    // The wait is bounded (generously, 4x the head deadline) below the request deadline, so that
    // only the head deadline can produce the 408 in time.
    const bound = { answers: 1, timeoutMs: 4 * HEADERS_TIMEOUT_MS };
    expect(bound.timeoutMs).toBeLessThan(REQUEST_TIMEOUT_MS);
    const stalled = await both(['GET /plain HTTP/1.1\r\nHost: te'], bound);
    expectSame(stalled);
    expect(statuses(stalled.lean)).toEqual(['HTTP/1.1 408 Request Timeout']);
    expect(stalled.lean.closed).toBe(true);

    const silent = await both([], bound);
    expectSame(silent);
    expect(statuses(silent.lean)).toEqual(['HTTP/1.1 408 Request Timeout']);

    // The deadline starts again with each request on a keep-alive connection.
    const second = await both([request('GET', '/plain'), { answers: 1 }, 'GET /plain HTTP/1.1\r\n'], {
      ...bound,
      answers: 2,
    });
    expectSame(second);
    expect(statuses(second.lean)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 408 Request Timeout']);
  });

  it('answers 408 to a body that stalls past the request deadline', async () => {
    const head = request('POST', '/echo', ['Host: test', 'Content-Length: 10']);
    const pair = await both([`${head}abc`], { answers: 1, close: true, timeoutMs: 2 * REQUEST_TIMEOUT_MS });
    expectSame(pair);
    expect(statuses(pair.lean)).toEqual(['HTTP/1.1 408 Request Timeout']);
    expect(pair.lean.closed).toBe(true);
  });
});

describe("the peer's half-close", () => {
  it('still answers a request sent just before the peer ends its side, then closes', async () => {
    const pair = await both([request('GET', '/plain'), 'end'], { answers: 1, close: true });
    expectSame(pair);
    expect(pair.lean.answers[0]?.body).toBe('hello GET /plain');
    expect(pair.lean.closed).toBe(true);
  });

  it('answers every pipelined request before closing a half-closed connection', async () => {
    const pair = await both([request('GET', '/plain?n=1') + request('GET', '/len'), 'end'], {
      answers: 2,
      close: true,
    });
    expectSame(pair);
    expect(pair.lean.answers.map((a) => a.body)).toEqual(['hello GET /plain?n=1', 'ok']);
  });

  it('refuses a head cut short by the peer ending its side', async () => {
    const pair = await both(['GET /plain HTTP/1.1\r\nHost: te', 'end'], { answers: 1, close: true });
    expectSame(pair);
    expect(statuses(pair.lean)).toEqual(['HTTP/1.1 400 Bad Request']);
  });

  it('answers a half-closed peer even when the answer comes later (deliberate difference)', async () => {
    // node:http (httpAllowHalfOpen false) ends its side as soon as the peer's FIN arrives, so an
    // answer given after that is lost. The lean server claims "a peer's half-close answered before
    // the connection ends": it keeps the socket half-open until the answer is out.
    const pair = await both([request('GET', '/slow?ms=50&tag=late'), 'end'], { answers: 1, close: true });
    expect(pair.lean.answers.map((a) => [a.status, a.body])).toEqual([['HTTP/1.1 200 OK', 'tag=late']]);
    expect(pair.lean.closed).toBe(true);
  });
});

describe('request headers', () => {
  it("builds req.headers as node does (duplicates joined, dropped or listed by node's rules)", async () => {
    const pair = await both(
      [
        request('GET', '/headers', [
          'Host: test',
          'Cookie: a=1',
          'Cookie: b=2',
          'Accept: text/html',
          'Accept: application/json',
          'Authorization: first',
          'Authorization: second',
          'Set-Cookie: s=1',
          'Set-Cookie: s=2',
          'X-Custom: one',
          'X-Custom: two',
          'Content-Type: text/plain',
          'Content-Type: text/html',
          'User-Agent: UA/1',
          'user-agent: UA/2',
          'X-Empty:',
        ]),
      ],
      { answers: 1 },
    );
    expectSame(pair);
    expect(JSON.parse(pair.lean.answers[0]?.body ?? '{}')).toEqual({
      host: 'test',
      cookie: 'a=1; b=2',
      accept: 'text/html, application/json',
      authorization: 'first',
      'set-cookie': ['s=1', 's=2'],
      'x-custom': 'one, two',
      'content-type': 'text/plain',
      'user-agent': 'UA/1',
      'x-empty': '',
    });
  });
});

describe('closeIdleConnections', () => {
  /** One run against `server`: which of four connections its closeIdleConnections() closed. */
  async function run(server: { closeIdleConnections(): void }, port: number, id: string) {
    const idle = await open(port); // answered, now idle on keep-alive
    idle.write(request('GET', '/plain'));
    await idle.until(() => idle.completeAnswers() >= 1, 3000);
    const busy = await open(port); // a request in flight: its answer is held
    busy.write(request('GET', `/hold?id=${id}`));
    await new Promise<void>((resolve) => {
      const poll = () => (held.has(id) ? resolve() : setTimeout(poll, 5));
      poll();
    });
    const partial = await open(port); // half a head sent
    partial.write('GET /plain HTTP/1.1\r\n');
    await sleep(50);

    server.closeIdleConnections();
    await idle.until(() => idle.closed, 3000);
    await busy.quiet(100);
    const before = { idle: idle.closed, busy: busy.closed, partial: partial.closed };

    held.get(id)?.end('released');
    await busy.until(() => busy.completeAnswers() >= 1, 3000);
    return { before, busy: busy.outcome() };
  }

  it('closes an idle keep-alive connection but not one with a request in flight', async () => {
    const [node, lean] = await Promise.all([
      run(nodeServer, nodePort, 'node'),
      run(leanServer, leanPort, 'lean'),
    ]);
    expect(lean.before).toEqual(node.before);
    expectSame({ node: node.busy, lean: lean.busy });
    expect(lean.before).toEqual({ idle: true, busy: false, partial: false });
    expect(lean.busy.answers.map((a) => a.body)).toEqual(['released']);
    expect(lean.busy.closed).toBe(false);
  });
});
