/**
 * The lean HTTP/1.1 client against real sockets on 127.0.0.1: node:http servers for ordinary
 * exchanges, raw net servers where the test needs bytes node:http would never send (split
 * chunks, early closes, stale keep-alive sockets, garbage).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Http1Controller,
  Http1Errors,
  type Http1Headers,
  Http1Pool,
  type Http1Request,
} from '../http1-client.ts';

interface Outcome {
  status: number;
  headers: Http1Headers | undefined;
  body: string;
  error: (Error & { code?: string }) | undefined;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listenOn(server: Server | ReturnType<typeof createHttpServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A node:http server; counts the connections it accepted. */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createHttpServer(handler);
  const stats = { connections: 0 };
  server.on('connection', () => stats.connections++);
  return { url: await listenOn(server), stats };
}

/** A raw TCP server: `onRequest` gets each socket and every request head it sends. */
async function rawServer(onRequest: (socket: Socket, head: string, n: number) => void) {
  const stats = { connections: 0, requests: 0 };
  const server = createNetServer((socket) => {
    stats.connections++;
    let buf = '';
    socket.setEncoding('latin1');
    socket.on('error', () => {});
    socket.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        onRequest(socket, head, ++stats.requests);
      }
    });
  });
  return { url: await listenOn(server), stats };
}

function pool(url: string, opts: Partial<ConstructorParameters<typeof Http1Pool>[1]> = {}): Http1Pool {
  const p = new Http1Pool(url, { connections: 4, ...opts });
  cleanups.push(() => p.destroy());
  return p;
}

function request(p: Http1Pool, req: Partial<Http1Request> = {}, onStart?: (c: Http1Controller) => void) {
  return new Promise<Outcome>((resolve) => {
    const out: Outcome = { status: 0, headers: undefined, body: '', error: undefined };
    const chunks: Buffer[] = [];
    p.dispatch(
      { method: 'GET', path: '/', headers: [], ...req },
      {
        onRequestStart: (c) => onStart?.(c),
        onResponseStart(_c, status, headers) {
          out.status = status;
          out.headers = headers;
        },
        onResponseData(_c, chunk) {
          chunks.push(Buffer.from(chunk));
        },
        onResponseEnd() {
          out.body = Buffer.concat(chunks).toString('utf8');
          resolve(out);
        },
        onResponseError(_c, err) {
          out.error = err;
          out.body = Buffer.concat(chunks).toString('utf8');
          resolve(out);
        },
      },
    );
  });
}

describe('Http1Pool', () => {
  it('reuses one keep-alive connection for sequential requests and parses headers', async () => {
    const s = await httpServer((req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('x-path', req.url ?? '');
      res.end(`hello ${req.url}`);
    });
    const p = pool(s.url);
    for (const path of ['/one', '/two?x=1', '/three']) {
      const r = await request(p, { path });
      expect(r.error).toBeUndefined();
      expect(r.status).toBe(200);
      expect(r.body).toBe(`hello ${path}`);
      expect(r.headers?.['x-path']).toBe(path);
      expect(r.headers?.['set-cookie']).toEqual(['a=1', 'b=2']);
    }
    expect(s.stats.connections).toBe(1);
  });

  it('reads chunked bodies split at every byte, with chunk extensions, and stays in step', async () => {
    const s = await rawServer((socket, head) => {
      const path = head.split(' ')[1] as string;
      const wire = `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n${(path.length).toString(16)}\r\n${path}\r\n0\r\nx-trailer: t\r\n\r\n`;
      // One byte per write, each flushed on its own.
      let i = 0;
      const next = () => {
        if (i >= wire.length) return;
        socket.write(wire[i++] as string, 'latin1');
        setImmediate(next);
      };
      next();
    });
    const p = pool(s.url, { connections: 1 });
    expect((await request(p, { path: '/abc' })).body).toBe('hello /abc');
    expect((await request(p, { path: '/defgh' })).body).toBe('hello /defgh');
    expect(s.stats.connections).toBe(1);
  });

  it('reads a body delimited by the end of the connection, and a HEAD answer without one', async () => {
    const s = await rawServer((socket, head) => {
      if (head.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n');
      else socket.end('HTTP/1.1 200 OK\r\n\r\nuntil the end');
    });
    const p = pool(s.url, { connections: 1 });
    const head = await request(p, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const r = await request(p);
    expect(r.error).toBeUndefined();
    expect(r.body).toBe('until the end');
  });

  it('sends a stream of unknown length chunked and a buffer with its length', async () => {
    const s = await httpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        res.end(
          JSON.stringify({
            te: req.headers['transfer-encoding'] ?? null,
            cl: req.headers['content-length'] ?? null,
            body: Buffer.concat(chunks).toString(),
          }),
        ),
      );
    });
    const p = pool(s.url);
    const streamed = await request(p, { method: 'POST', body: Readable.from(['ab', 'cd', 'ef']) });
    expect(JSON.parse(streamed.body)).toEqual({ te: 'chunked', cl: null, body: 'abcdef' });
    const buffered = await request(p, {
      method: 'PUT',
      headers: ['content-length', '999'],
      body: Buffer.from('xyz'),
    });
    expect(JSON.parse(buffered.body)).toEqual({ te: null, cl: '3', body: 'xyz' });
    const empty = await request(p, { method: 'POST' });
    expect(JSON.parse(empty.body)).toEqual({ te: null, cl: '0', body: '' });
  });

  it('fails a stream that ends short of its content-length, and the pool keeps working', async () => {
    const s = await httpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const p = pool(s.url, { connections: 1 });
    const short = await request(p, {
      method: 'POST',
      headers: ['content-length', '10'],
      body: Readable.from([Buffer.from('abc')]),
    });
    expect(short.error?.code).toBe(Http1Errors.BODY_LENGTH_MISMATCH);
    expect((await request(p)).body).toBe('ok');
  });

  it('resends an idempotent request once when a reused keep-alive socket was closed under it', async () => {
    // Answers the first request on each connection, then closes it on the next without a byte:
    // what a server closing an idle connection looks like from the client.
    const s = await rawServer((socket, _head) => {
      const served = (socket as Socket & { served?: number }).served ?? 0;
      (socket as Socket & { served?: number }).served = served + 1;
      if (served === 0) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.destroy();
    });
    const p = pool(s.url, { connections: 1 });
    expect((await request(p)).body).toBe('ok');
    const again = await request(p);
    expect(again.error).toBeUndefined();
    expect(again.body).toBe('ok');
    expect(s.stats.connections).toBe(2);
    // A POST is not resent: it might have been processed.
    const post = await request(p, { method: 'POST', body: 'x' });
    expect(post.error?.code).toBe(Http1Errors.CLOSED);
    expect((await request(p)).body).toBe('ok');
  });

  it('fails a response cut off mid-body, then serves the next request on a new connection', async () => {
    const s = await rawServer((socket, _head, n) => {
      if (n === 1) socket.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nfine');
    });
    const p = pool(s.url, { connections: 1 });
    const cut = await request(p);
    expect(cut.status).toBe(200);
    expect(cut.error?.code).toBe(Http1Errors.CLOSED);
    expect(cut.body).toBe('abc');
    expect((await request(p)).body).toBe('fine');
    expect(s.stats.connections).toBe(2);
  });

  it('delivers an answer that comes before the request body is sent, and does not reuse that connection', async () => {
    const s = await rawServer((socket, head) => {
      if (head.startsWith('POST'))
        socket.write('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 3\r\n\r\nbig');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const p = pool(s.url, { connections: 1 });
    const body = new PassThrough();
    body.write('first part of a body that never ends');
    const early = await request(p, { method: 'POST', headers: ['content-length', '1000000'], body });
    expect(early.status).toBe(413);
    expect(early.body).toBe('big');
    expect(body.isPaused() || body.listenerCount('data') === 0).toBe(true);
    expect((await request(p)).body).toBe('ok');
    expect(s.stats.connections).toBe(2);
  });

  it('fails with a headers timeout when no answer comes, and a body timeout when the body stalls', async () => {
    const s = await rawServer((socket, head) => {
      if (head.includes('/stall-body')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab');
    });
    const p = pool(s.url, { headersTimeoutMs: 150, bodyTimeoutMs: 150 });
    expect((await request(p, { path: '/silent' })).error?.code).toBe(Http1Errors.HEADERS_TIMEOUT);
    const stalled = await request(p, { path: '/stall-body' });
    expect(stalled.status).toBe(200);
    expect(stalled.error?.code).toBe(Http1Errors.BODY_TIMEOUT);
    // A per-request timeout overrides the pool's.
    const q = pool(s.url, { headersTimeoutMs: 60_000 });
    expect((await request(q, { path: '/silent', headersTimeoutMs: 100 })).error?.code).toBe(
      Http1Errors.HEADERS_TIMEOUT,
    );
  });

  it('reports a refused connection with the socket error code', async () => {
    const s = await rawServer(() => {});
    const url = s.url;
    for (const c of cleanups.splice(0)) await c();
    const r = await request(pool(url));
    expect(r.error?.code).toBe('ECONNREFUSED');
  });

  it('fails malformed answers without hanging and refuses headers that would break the framing', async () => {
    const s = await rawServer((socket, head) => {
      if (head.includes('/garbage')) socket.write('SMTP ready\r\n\r\n');
      else if (head.includes('/bad-chunk'))
        socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n');
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const p = pool(s.url);
    expect((await request(p, { path: '/garbage' })).error?.code).toBe(Http1Errors.BAD_RESPONSE);
    expect((await request(p, { path: '/bad-chunk' })).error?.code).toBe(Http1Errors.BAD_RESPONSE);
    const injected = await request(p, { headers: ['x-user-id', 'a\r\nx-user-role: admin'] });
    expect(injected.error?.code).toBe(Http1Errors.INVALID_HEADER);
    expect((await request(p)).body).toBe('ok');
    expect(s.stats.requests).toBe(3);
  });

  it('keeps pipelined responses in order and resends unanswered requests after connection: close', async () => {
    const s = await rawServer((socket, head, n) => {
      const path = head.split(' ')[1] as string;
      const close = n === 2 ? 'connection: close\r\n' : '';
      socket.write(`HTTP/1.1 200 OK\r\n${close}content-length: ${path.length}\r\n\r\n${path}`);
      if (close) socket.end();
    });
    const p = pool(s.url, { connections: 1, pipelining: 4 });
    const results = await Promise.all(['/a', '/b', '/c', '/d'].map((path) => request(p, { path })));
    expect(results.map((r) => r.body)).toEqual(['/a', '/b', '/c', '/d']);
    expect(results.every((r) => r.error === undefined)).toBe(true);
  });

  it('stops an aborted request and lets the handler throttle the response', async () => {
    const s = await httpServer((_req, res) => {
      res.write('x'.repeat(1000));
      setTimeout(() => res.end('y'), 50);
    });
    const p = pool(s.url, { connections: 1 });
    const aborted = new Promise<Outcome>((resolve) => {
      p.dispatch(
        { method: 'GET', path: '/', headers: [] },
        {
          onResponseStart(c) {
            c.abort(Object.assign(new Error('client left'), { code: 'CLIENT_GONE' }));
          },
          onResponseData() {
            throw new Error('no data after an abort');
          },
          onResponseEnd() {
            throw new Error('no end after an abort');
          },
          onResponseError(_c, err) {
            resolve({ status: 0, headers: undefined, body: '', error: err });
          },
        },
      );
    });
    expect((await aborted).error?.code).toBe('CLIENT_GONE');
    let paused = 0;
    const r = await new Promise<string>((resolve, reject) => {
      let body = '';
      p.dispatch(
        { method: 'GET', path: '/', headers: [] },
        {
          onResponseStart() {},
          onResponseData(c, chunk) {
            body += chunk.toString();
            c.pause();
            paused++;
            setTimeout(() => c.resume(), 5);
          },
          onResponseEnd: () => resolve(body),
          onResponseError: (_c, err) => reject(err),
        },
      );
    });
    expect(r).toBe(`${'x'.repeat(1000)}y`);
    expect(paused).toBeGreaterThan(0);
  });

  it('does not leave a connection paused when a response ends while its handler holds it paused', async () => {
    const s = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789');
    });
    const p = pool(s.url, { connections: 1, headersTimeoutMs: 2000 });
    const first = await new Promise<string>((resolve, reject) => {
      let body = '';
      p.dispatch(
        { method: 'GET', path: '/', headers: [] },
        {
          onResponseStart() {},
          onResponseData(c, chunk) {
            body += chunk.toString();
            // Backpressure that is only relieved long after this response has ended.
            c.pause();
            setTimeout(() => c.resume(), 5000).unref();
          },
          onResponseEnd: () => resolve(body),
          onResponseError: (_c, err) => reject(err),
        },
      );
    });
    expect(first).toBe('0123456789');
    const second = await request(p);
    expect(second.error).toBeUndefined();
    expect(second.body).toBe('0123456789');
    expect(s.stats.connections).toBe(1);
  });

  it('encodes a cacheable request once and sends the same bytes each time', async () => {
    const seen: string[] = [];
    const s = await rawServer((socket, head) => {
      seen.push(head);
      socket.write('HTTP/1.1 204 No Content\r\n\r\n');
    });
    const p = pool(s.url, { connections: 1, parseHeaders: false });
    const req: Http1Request = { method: 'GET', path: '/static', headers: { 'x-a': '1' } };
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) =>
        p.dispatch(
          req,
          {
            onResponseStart: (_c, status, headers) => {
              statuses.push(status);
              expect(headers).toBeUndefined();
            },
            onResponseData() {},
            onResponseEnd: resolve,
            onResponseError: (_c, err) => reject(err),
          },
          true,
        ),
      );
    }
    expect(statuses).toEqual([204, 204, 204]);
    expect(new Set(seen).size).toBe(1);
    expect(seen[0]).toContain('x-a: 1');
    expect(seen[0]).toMatch(/\r\nhost: 127\.0\.0\.1:\d+/);
  });
});
