import http from 'node:http';
import http2 from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP2_PREFACE, type ProtocolSplit, splitProtocols } from '../protocol-split.ts';

/** Answers the protocol, method and the byte count of the body, so lost or reordered bytes show. */
function countBody(protocol: string) {
  return (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    let n = 0;
    let sum = 0;
    req.on('data', (chunk: Buffer) => {
      n += chunk.length;
      for (const b of chunk) sum = (sum + b) % 65_521;
    });
    req.on('end', () => res.end(`${protocol} ${req.method} ${n} ${sum}`));
  };
}

let server: http.Server;
let split: ProtocolSplit;
let port: number;

async function start(sniffTimeoutMs?: number) {
  server = http.createServer(countBody('h1'));
  const h2 = http2.createServer(countBody('h2'));
  split = splitProtocols(server, {
    http2: (socket) => h2.emit('connection', socket),
    ...(sniffTimeoutMs ? { sniffTimeoutMs } : {}),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
}

afterEach(async () => {
  split?.closePending();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

function body(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 7 + 3) % 251;
  return b;
}
function checksum(b: Buffer): number {
  let sum = 0;
  for (const x of b) sum = (sum + x) % 65_521;
  return sum;
}

async function h2Post(data: Buffer): Promise<string> {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const stream = client.request({ ':method': 'POST', ':path': '/' });
    stream.end(data);
    let text = '';
    stream.on('data', (d) => {
      text += d;
    });
    await new Promise((r) => stream.on('end', r));
    return text;
  } finally {
    client.close();
  }
}

describe('splitProtocols', () => {
  it('serves HTTP/1.1 and h2c on one port, large bodies intact on both', async () => {
    await start();
    const data = body(3_000_000);
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const res = await fetch(`http://127.0.0.1:${port}/`, { method, body: data });
      expect(await res.text()).toBe(`h1 ${method} ${data.length} ${checksum(data)}`);
    }
    expect(await h2Post(data)).toBe(`h2 POST ${data.length} ${checksum(data)}`);
    const get = await fetch(`http://127.0.0.1:${port}/`);
    expect(await get.text()).toBe('h1 GET 0 0');
  });

  it('decides on a preface that arrives a few bytes at a time', async () => {
    await start();
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    // Send the preface in three pieces: the split must wait for all 24 bytes before choosing h2.
    socket.write(HTTP2_PREFACE.subarray(0, 3));
    await new Promise((r) => setTimeout(r, 30));
    socket.write(HTTP2_PREFACE.subarray(3, 10));
    await new Promise((r) => setTimeout(r, 30));
    socket.write(HTTP2_PREFACE.subarray(10));
    // An HTTP/2 server answers the preface with its SETTINGS frame (type 0x4 at byte 3).
    const frame = await new Promise<Buffer>((r) => socket.once('data', r));
    expect(frame[3]).toBe(0x4);
    socket.destroy();
  });

  it('treats a request that starts like the preface as HTTP/1.1, bytes trickling in', async () => {
    await start();
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    // "PR" matches the preface ("PRI * HTTP/2.0"), "O" decides: the two bytes held back must reach
    // the HTTP/1.1 parser first.
    for (const piece of ['P', 'R', 'OPFIND / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nab', 'c']) {
      socket.write(piece);
      await new Promise((r) => setTimeout(r, 20));
    }
    const answer = await new Promise<Buffer>((r) => socket.once('data', r));
    expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*h1 PROPFIND 3 294$/);
    socket.destroy();
  });

  it('closes connections that stay silent, and lets closePending end undecided ones', async () => {
    await start(200);
    const silent = connect(port, '127.0.0.1');
    const closed = new Promise((r) => silent.once('close', r));
    await closed;
    const waiting: Socket = connect(port, '127.0.0.1');
    await new Promise((r) => waiting.once('connect', r));
    await new Promise((r) => setTimeout(r, 20));
    expect(split.pending).toBe(1);
    const ended = new Promise((r) => waiting.once('close', r));
    split.closePending();
    await ended;
    expect(split.pending).toBe(0);
  });

  it('refuses a server without a connection listener to keep', () => {
    const bare = http.createServer();
    bare.removeAllListeners('connection');
    expect(() => splitProtocols(bare, { http2() {} })).toThrow(/no connection listener/);
  });
});
