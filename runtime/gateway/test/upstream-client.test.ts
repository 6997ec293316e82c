/**
 * The gateway's upstream connections (runtime/lib/http1-client.ts) against upstreams that do what
 * real ones do now and then: answer chunked, close an idle keep-alive socket as a request arrives,
 * cut a response short, hang up while a body is still uploading.
 */
import { request as httpRequest } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, admin, listen, startGateway, type TestGateway } from './helpers.ts';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A raw upstream: `onRequest` gets each connection's socket, the request head and its number on that socket. */
async function rawUpstream(onRequest: (socket: Socket, head: string, nOnSocket: number) => void) {
  const stats = { connections: 0 };
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = '';
    let n = 0;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = '';
        onRequest(socket, head, ++n);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(
    () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stats };
}

async function gatewayTo(url: string, env: Record<string, string> = {}): Promise<TestGateway> {
  const gw = await startGateway(
    {
      routes: [{ prefix: '/up', service: 'up', auth: 'none' }],
      services: { up: { instances: [{ id: 'up-1', url }] } },
    },
    { ADMIN_TOKEN, ...env },
  );
  cleanup.push(gw.close);
  return gw;
}

async function instanceState(gw: TestGateway) {
  const body = (await (await admin(gw, 'GET', '/admin/state')).json()) as {
    services: Record<string, { instances: { state: string; ejections: number }[] }>;
  };
  return body.services.up?.instances[0];
}

describe('upstream connections', () => {
  it('relays chunked answers intact, all over one kept-alive upstream connection', async () => {
    const up = await listen((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`start ${req.url}|`);
      setImmediate(() => {
        res.write('x'.repeat(20_000));
        setImmediate(() => res.end('|end'));
      });
    });
    cleanup.push(up.close);
    let connections = 0;
    up.server.on('connection', () => connections++);
    const gw = await gatewayTo(up.url);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${gw.url}/up/${i}`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe(`start /up/${i}|${'x'.repeat(20_000)}|end`);
    }
    expect(connections).toBe(1);
  });

  it('resends a GET that met an idle upstream socket being closed, without a failure or a retry', async () => {
    // Answers the first request on a connection, then closes it when the next one arrives.
    const up = await rawUpstream((socket, _head, n) => {
      if (n === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.destroy();
    });
    const gw = await gatewayTo(up.url, { BREAKER_FAILURES: '1' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${gw.url}/up/x`);
      statuses.push(r.status);
      await r.text();
    }
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(up.stats.connections).toBe(4);
    expect(await instanceState(gw)).toMatchObject({ state: 'closed', ejections: 0 });
  });

  it('cuts the client response when the upstream cuts its own, then serves the next request', async () => {
    let first = true;
    const up = await rawUpstream((socket) => {
      if (first) {
        first = false;
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
      } else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nwhole');
    });
    const gw = await gatewayTo(up.url);
    const cut = await fetch(`${gw.url}/up/a`).then(
      (r) =>
        r.text().then(
          () => 'complete',
          () => 'cut',
        ),
      () => 'cut',
    );
    expect(cut).toBe('cut');
    const r = await fetch(`${gw.url}/up/b`);
    expect(await r.text()).toBe('whole');
  });

  it('answers 502 when the upstream hangs up during an upload, without ejecting it', async () => {
    const up = await rawUpstream((socket, head) => {
      if (head.startsWith('POST')) socket.destroy();
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
    const gw = await gatewayTo(up.url, { BREAKER_FAILURES: '1' });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/up/upload`, { method: 'POST' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      // A chunked upload that keeps coming until the answer arrives.
      const pump = setInterval(() => req.write(Buffer.alloc(16_384, 0x61)), 5);
      req.on('response', () => {
        clearInterval(pump);
        req.end();
      });
      req.on('close', () => clearInterval(pump));
    });
    expect(answer.status).toBe(502);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'UPSTREAM_CLOSED_EARLY' });
    expect(await instanceState(gw)).toMatchObject({ state: 'closed', ejections: 0 });
    expect(await (await fetch(`${gw.url}/up/after`)).text()).toBe('ok');
  });
});
