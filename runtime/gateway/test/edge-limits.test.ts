/**
 * Attacks on the gateway's edge, replayed against real servers on 127.0.0.1: oversized and
 * chunked bodies, an upstream (the real auth service) refusing a body early, 4xx floods, load
 * shedding, slow headers and connection hoarding. Each asserts the answer the client gets and
 * that the upstream stays in the gateway (no ejection a client can trigger).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../auth/test/helpers/service-process.ts';
import { ADMIN_TOKEN, admin, listen, startGateway, type TestGateway } from './helpers.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

type InstanceState = { id: string; state: string; ejections: number; consecutiveFailures: number };

async function instances(gw: TestGateway, service: string): Promise<InstanceState[]> {
  const body = (await (await admin(gw, 'GET', '/admin/state')).json()) as {
    services: Record<string, { instances: InstanceState[] }>;
  };
  return body.services[service]!.instances;
}

/** A POST with an explicit body; resolves with the status, or the error code if the exchange broke. */
function post(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    req.end(body);
  });
}

/** Opens a socket and sends `head` without finishing it; resolves when the gateway closes the socket. */
function dribble(port: number, head: string): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    data += d;
  });
  socket.on('error', () => {});
  socket.write(head);
  return { socket, closed: new Promise((resolve) => socket.on('close', () => resolve(data))) };
}

describe('body limits at the edge', () => {
  it('answers 413 for a declared length over the route limit without reaching the upstream', async () => {
    let hits = 0;
    const upstream = await listen((req, res) => {
      hits++;
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const gw = await startGateway(
      {
        routes: [
          { prefix: '/small', service: 'api', auth: 'none', maxBodyBytes: 1000 },
          { prefix: '/api', service: 'api', auth: 'none' },
        ],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { MAX_BODY_BYTES: '5000' },
    );
    cleanup.push(upstream.close, gw.close);
    const res = await fetch(`${gw.url}/small/x`, { method: 'POST', body: 'x'.repeat(1001) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('BODY_TOO_LARGE');
    expect(await post(`${gw.url}/api/x`, Buffer.alloc(5001))).toBe(413);
    // A large declared body is refused at once, and the connection is closed rather than read.
    expect(await post(`${gw.url}/api/x`, Buffer.alloc(20 * 1024 * 1024))).toBe(413);
    expect(hits).toBe(0);
    expect(await post(`${gw.url}/small/x`, Buffer.alloc(1000))).toBe(200);
    expect(hits).toBe(1);
  });

  it('cuts a chunked body when it crosses the limit and answers 413', async () => {
    const upstream = await listen((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none', maxBodyBytes: 64 * 1024 }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { ADMIN_TOKEN },
    );
    cleanup.push(upstream.close, gw.close);
    const status = await new Promise<number | string>((resolve) => {
      const req = request(`${gw.url}/api/x`, { method: 'POST' });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      for (let i = 0; i < 20; i++) req.write(Buffer.alloc(16 * 1024));
      req.end();
    });
    expect(status).toBe(413);
    expect((await instances(gw, 'api'))[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
    expect(await post(`${gw.url}/api/x`, Buffer.alloc(10))).toBe(200);
  });
});

describe('an upstream that refuses a body early (the real auth service)', () => {
  let dir: string;
  let auth: ServiceProcess;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-edge-'));
    auth = await startService('auth', { DATA_DIR: dir, DATABASE_URL: `sqlite://${join(dir, 'auth.db')}` });
  }, 30_000);
  afterAll(async () => {
    await auth?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('relays its 413 as answered, every time, and never ejects it', async () => {
    // The gateway's own limit is above auth's 16 KiB, so auth is the one refusing.
    const gw = await startGateway(
      {
        routes: [{ prefix: '/auth', service: 'auth' }],
        services: { auth: { instances: [{ id: 'auth-1', url: auth.url }] } },
      },
      { ADMIN_TOKEN, BREAKER_FAILURES: '3' },
    );
    cleanup.push(gw.close);
    const sizes = [100_000, 500_000, 900_000];
    const answers: (number | string)[] = [];
    for (let i = 0; i < 12; i++)
      answers.push(await post(`${gw.url}/auth/login`, Buffer.alloc(sizes[i % 3]!, 0x20)));
    expect(answers).toEqual(answers.map(() => 413));
    expect((await instances(gw, 'auth'))[0]).toMatchObject({ state: 'closed', ejections: 0 });
    // A login right after still reaches auth (400: not a valid body), not 503 no_healthy_upstream.
    expect(await post(`${gw.url}/auth/login`, Buffer.from('{}'))).toBe(400);
  });
});

describe('ejection only for failures a client cannot cause', () => {
  it('keeps an instance answering 4xx and shedding load (503 x-overloaded)', async () => {
    let n = 0;
    const upstream = await listen((req, res) => {
      req.resume();
      n++;
      if (n % 2 === 0) res.writeHead(503, { 'retry-after': '1', 'x-overloaded': 'true' }).end('busy');
      else res.writeHead(n % 3 === 0 ? 404 : 400).end('no');
    });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { ADMIN_TOKEN, BREAKER_FAILURES: '2' },
    );
    cleanup.push(upstream.close, gw.close);
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) statuses.add((await fetch(`${gw.url}/api/x`)).status);
    expect([...statuses].sort()).toEqual([400, 404, 503]);
    expect((await instances(gw, 'api'))[0]).toMatchObject({ state: 'closed', ejections: 0 });
  });

  it('still ejects an instance whose own answers are 502', async () => {
    const upstream = await listen((_req, res) => res.writeHead(502).end('broken'));
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { ADMIN_TOKEN, BREAKER_FAILURES: '2' },
    );
    cleanup.push(upstream.close, gw.close);
    for (let i = 0; i < 3; i++) await fetch(`${gw.url}/api/x`);
    expect((await instances(gw, 'api'))[0]!.ejections).toBeGreaterThan(0);
  });
});

describe('slow and greedy clients', () => {
  it('closes connections that do not finish their headers in time', async () => {
    const upstream = await listen((_req, res) => res.end('ok'));
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { CLIENT_HEADERS_TIMEOUT_MS: '1000' },
    );
    cleanup.push(upstream.close, gw.close);
    const port = Number(new URL(gw.url).port);
    const slow = Array.from({ length: 20 }, () => dribble(port, 'GET /api/x HTTP/1.1\r\nhost: gw\r\nx-a: '));
    const answers = await Promise.all(slow.map((s) => s.closed));
    for (const a of answers) expect(a).toMatch(/^HTTP\/1\.1 408/);
    expect((await fetch(`${gw.url}/api/x`)).status).toBe(200);
  });

  it('caps the connections one client holds open and serves it again once they close', async () => {
    const upstream = await listen((_req, res) => res.end('ok'));
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { MAX_CONNECTIONS_PER_CLIENT: '5' },
    );
    cleanup.push(upstream.close, gw.close);
    const port = Number(new URL(gw.url).port);
    const held = Array.from({ length: 5 }, () => dribble(port, 'GET /api/x HTTP/1.1\r\nhost: gw\r\n'));
    await new Promise((r) => setTimeout(r, 100));
    const extra = dribble(port, 'GET /api/x HTTP/1.1\r\nhost: gw\r\n\r\n');
    expect(await extra.closed).toMatch(/^HTTP\/1\.1 429/);
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    await new Promise((r) => setTimeout(r, 50));
    expect((await fetch(`${gw.url}/api/x`)).status).toBe(200);
  });
});

describe('idle connections', () => {
  const api = (url: string) => ({
    routes: [{ prefix: '/api', service: 'api', auth: 'none' as const }],
    services: { api: { instances: [{ id: 'a', url }] } },
  });

  it('closes a keep-alive connection left idle after its answer', async () => {
    const upstream = await listen((_req, res) => res.end('ok'));
    const gw = await startGateway(api(upstream.url), { CLIENT_KEEPALIVE_TIMEOUT_MS: '300' });
    cleanup.push(upstream.close, gw.close);
    const idle = dribble(Number(new URL(gw.url).port), 'GET /api/x HTTP/1.1\r\nhost: gw\r\n\r\n');
    expect(await idle.closed).toMatch(/^HTTP\/1\.1 200 [\s\S]*\r\n\r\nok$/);
  });

  it('closes a connection whose request moves no byte either way for the socket timeout', async () => {
    const upstream = await listen(() => {}); // never answers
    const gw = await startGateway(api(upstream.url), {
      CLIENT_SOCKET_TIMEOUT_MS: '500',
      UPSTREAM_HEADERS_TIMEOUT_MS: '60000',
    });
    cleanup.push(upstream.close, gw.close);
    const stuck = dribble(Number(new URL(gw.url).port), 'GET /api/x HTTP/1.1\r\nhost: gw\r\n\r\n');
    expect(await stuck.closed).toBe('');
  });

  it('keeps a slow answer whose bytes keep moving for longer than the socket timeout', async () => {
    const upstream = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const tick = setInterval(() => {
        if (++n < 6) res.write(`${n}`);
        else {
          clearInterval(tick);
          res.end('.');
        }
      }, 250);
    });
    const gw = await startGateway(api(upstream.url), { CLIENT_SOCKET_TIMEOUT_MS: '600' });
    cleanup.push(upstream.close, gw.close);
    const res = await fetch(`${gw.url}/api/x`);
    expect(await res.text()).toBe('12345.');
  });
});

describe('anonymous rate limit', () => {
  it('limits requests without a token per address, with Retry-After', async () => {
    const upstream = await listen((_req, res) => res.end('ok'));
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { ANON_RATE_LIMIT_RPS: '1', ANON_RATE_LIMIT_BURST: '3' },
    );
    cleanup.push(upstream.close, gw.close);
    const answers: Response[] = [];
    for (let i = 0; i < 5; i++) answers.push(await fetch(`${gw.url}/api/x`));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    expect(Number(answers[4]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('admin listener', () => {
  it('serves /metrics and /admin only on ADMIN_PORT, and nothing else there', async () => {
    const upstream = await listen((_req, res) => res.end('ok'));
    const gw = await startGateway(
      {
        routes: [{ prefix: '/', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { ADMIN_TOKEN, ADMIN_PORT: '0' },
    );
    cleanup.push(upstream.close, gw.close);
    const adminUrl = `http://127.0.0.1:${gw.gateway.adminPort}`;
    // The public port routes everything else, but never the metrics or the admin API.
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
    const publicAdmin = await fetch(`${gw.url}/admin/state`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(publicAdmin.status).toBe(404);
    expect((await fetch(`${gw.url}/anything`)).status).toBe(200);
    const metrics = await fetch(`${adminUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('gateway_requests_total');
    const state = await fetch(`${adminUrl}/admin/state`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(state.status).toBe(200);
    expect((await fetch(`${adminUrl}/anything`)).status).toBe(404);
    expect((await fetch(`${adminUrl}/healthz`)).status).toBe(200);
  });
});
