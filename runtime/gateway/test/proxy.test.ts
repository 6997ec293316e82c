import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Http1Server } from '../../lib/http1-server.ts';
import { createLogger } from '../../lib/logger.ts';
import {
  echoUpstream,
  listen,
  rawStatus,
  startGateway,
  type TestGateway,
  type TestServer,
} from './helpers.ts';

const downloadChunk = Buffer.alloc(64 * 1024, 3);
const DOWNLOAD_CHUNKS = 256; // 16 MiB
const downloadDigest = (() => {
  const h = createHash('sha256');
  for (let i = 0; i < DOWNLOAD_CHUNKS; i++) h.update(downloadChunk);
  return { size: downloadChunk.length * DOWNLOAD_CHUNKS, sha256: h.digest('hex') };
})();

// The public listener's two servers (GATEWAY_HTTP_SERVER) must proxy alike.
describe.each(['lean', 'node'] as const)('gateway proxying (%s server)', (server) => {
  let content: TestServer;
  let contentAdmin: TestServer;
  let uploads: TestServer;
  let gw: TestGateway;
  let uploadStarted: () => void = () => {};

  beforeAll(async () => {
    content = await echoUpstream('content');
    contentAdmin = await echoUpstream('content-admin');
    // Hashes what it receives and tells the test as soon as the first bytes arrive.
    uploads = await listen((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let sent = 0;
        const pump = () => {
          while (sent < DOWNLOAD_CHUNKS) {
            sent++;
            if (!res.write(downloadChunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      const hash = createHash('sha256');
      let size = 0;
      req.on('data', (c: Buffer) => {
        if (size === 0) uploadStarted();
        size += c.length;
        hash.update(c);
      });
      req.on('end', () => {
        res.writeHead(201, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
        res.end(JSON.stringify({ size, sha256: hash.digest('hex') }));
      });
    });
    gw = await startGateway(
      {
        routes: [
          { prefix: '/content', service: 'content', auth: 'none' },
          { prefix: '/content/admin/', service: 'content-admin', auth: 'none' },
          { prefix: '/uploads', service: 'uploads', auth: 'none', maxBodyBytes: 64 * 1024 * 1024 },
          { prefix: '/empty', service: 'empty', auth: 'none' },
        ],
        services: {
          content: { instances: [{ id: 'c1', url: content.url, version: 'v1' }] },
          'content-admin': { instances: [{ id: 'ca1', url: contentAdmin.url, version: 'v1' }] },
          uploads: { instances: [{ id: 'u1', url: uploads.url, version: 'v1' }] },
        },
      },
      { GATEWAY_HTTP_SERVER: server },
    );
  });

  afterAll(async () => {
    await gw.close();
    await Promise.all([content.close(), contentAdmin.close(), uploads.close()]);
  });

  it('runs the server GATEWAY_HTTP_SERVER names', () => {
    expect(gw.gateway.server instanceof Http1Server).toBe(server === 'lean');
  });

  it('routes by the longest whole-segment prefix and keeps path and query', async () => {
    const a = (await (await fetch(`${gw.url}/content/42?w=200`)).json()) as { name: string; url: string };
    expect(a).toMatchObject({ name: 'content', url: '/content/42?w=200' });
    const b = (await (await fetch(`${gw.url}/content/admin/x`)).json()) as { name: string };
    expect(b.name).toBe('content-admin');
    const c = (await (await fetch(`${gw.url}/content`)).json()) as { name: string };
    expect(c.name).toBe('content');
    const miss = await fetch(`${gw.url}/contents`);
    expect(miss.status).toBe(404);
    expect(((await miss.json()) as { code: string }).code).toBe('NO_ROUTE');
  });

  it('answers 503 with a problem and Retry-After for a service without instances', async () => {
    const r = await fetch(`${gw.url}/empty/x`);
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(r.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(await r.json()).toMatchObject({
      type: 'tag:platformctl,2026:problem:no-upstream',
      title: 'Service Unavailable',
      status: 503,
      code: 'NO_UPSTREAM',
      detail: 'service empty has no instances',
      requestId: r.headers.get('x-request-id'),
    });
  });

  it('refuses dot segments, also percent-encoded, with 400', async () => {
    for (const path of [
      '/content/../auth/x',
      '/content/%2e%2e/x',
      '/content/%2E%2E%2Fadmin',
      '/content/a%00b',
    ]) {
      const status = await rawStatus(gw.url, path);
      expect(status, path).toBe(400);
    }
  });

  it('strips spoofed identity and hop-by-hop headers, sets request id, forwarding headers and traceparent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await fetch(`${gw.url}/content/h`, {
      headers: {
        'x-user-id': 'admin',
        'x-user-role': 'admin',
        'x-request-id': 'req-123',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        'x-custom': 'kept',
        'proxy-authorization': 'Basic c2VjcmV0',
        te: 'trailers',
      },
    });
    expect(r.headers.get('x-request-id')).toBe('req-123');
    const { headers } = (await r.json()) as { headers: Record<string, string> };
    expect(headers['x-user-id']).toBeUndefined();
    expect(headers['x-user-role']).toBeUndefined();
    expect(headers['proxy-authorization']).toBeUndefined();
    expect(headers.te).toBeUndefined();
    expect(headers['x-custom']).toBe('kept');
    expect(headers['x-request-id']).toBe('req-123');
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(headers.traceparent).not.toContain('00f067aa0ba902b7');
  });

  it('generates a request id when the client sends none or a malformed one', async () => {
    const r = await fetch(`${gw.url}/content/h`, { headers: { 'x-request-id': 'bad id with spaces' } });
    const id = r.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const { headers } = (await r.json()) as { headers: Record<string, string> };
    expect(headers['x-request-id']).toBe(id);
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('streams an upload to the upstream before the client has finished sending it', async () => {
    const chunk = Buffer.alloc(256 * 1024, 7);
    const chunks = 40; // 10 MiB
    const expected = createHash('sha256');
    const started = new Promise<void>((resolve) => {
      uploadStarted = resolve;
    });
    const response = new Promise<{ status: number; body: string; cookies: string[] }>((resolve, reject) => {
      const req = request(
        `${gw.url}/uploads`,
        { method: 'POST', headers: { 'content-type': 'video/mp4' } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body, cookies: res.headers['set-cookie'] ?? [] }),
          );
        },
      );
      req.on('error', reject);
      // First chunk, then wait until the upstream has seen bytes: only a streaming proxy gets there.
      req.write(chunk);
      expected.update(chunk);
      void started.then(() => {
        for (let i = 1; i < chunks; i++) {
          req.write(chunk);
          expected.update(chunk);
        }
        req.end();
      });
    });
    const r = await response;
    expect(r.status).toBe(201);
    expect(JSON.parse(r.body)).toEqual({ size: chunk.length * chunks, sha256: expected.digest('hex') });
    expect(r.cookies).toEqual(['a=1', 'b=2']);
  });

  it('streams a large download to a slow client with backpressure, intact', async () => {
    const received = await new Promise<{ size: number; sha256: string }>((resolve, reject) => {
      request(`${gw.url}/uploads/download`, { method: 'GET' }, (res) => {
        const hash = createHash('sha256');
        let size = 0;
        let pauses = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          hash.update(c);
          // Stall a few times so the gateway's socket buffer fills and it must pause the upstream.
          if (pauses < 3 && size > (pauses + 1) * 4 * 1024 * 1024) {
            pauses++;
            res.pause();
            setTimeout(() => res.resume(), 150);
          }
        });
        res.on('end', () => resolve({ size, sha256: hash.digest('hex') }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    expect(received).toEqual(downloadDigest);
  });

  it('answers health, readiness and metrics itself', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toContain(
      'gateway_requests_total{route="/content",service="content",version="v1",code="200"}',
    );
    expect(text).toContain('gateway_request_duration_seconds_bucket');
    expect(text).toContain('process_cpu_user_seconds_total');
  });
});

describe('access log', () => {
  it('writes one kit-shaped JSON line per request, naming the upstream without clobbering the gateway fields', async () => {
    const lines: string[] = [];
    const capture = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const up = await echoUpstream('up');
    const logger = createLogger({
      service: 'gateway',
      version: '9.9.9',
      instance: 'gw-1',
      destination: capture,
    });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'api-1', url: up.url, version: '1.2.3' }] } },
      },
      { ACCESS_LOG: 'true' },
      logger,
    );
    await (await fetch(`${gw.url}/api/x?secret=1`, { headers: { 'x-request-id': 'log-1' } })).text();
    await gw.close();
    await up.close();
    const entry = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === 'log-1');
    expect(entry).toMatchObject({
      level: 'info',
      service: 'gateway',
      version: '9.9.9',
      instance: 'gw-1',
      msg: 'request',
      method: 'GET',
      path: '/api/x',
      status: 200,
      upstream: 'api',
      upstreamVersion: '1.2.3',
      upstreamInstance: 'api-1',
    });
    expect(typeof entry?.durationMs).toBe('number');
    expect(entry?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(entry)).not.toContain('secret');
  });
});

describe('5xx in the log', () => {
  it('logs every 5xx answer at warn, with its request id, even with the access log off', async () => {
    const lines: string[] = [];
    const capture = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const up = await listen((req, res) => {
      res.statusCode = req.url === '/api/boom' ? 500 : 200;
      res.end('x');
    });
    const logger = createLogger({ service: 'gateway', version: '1', instance: 'gw-1', destination: capture });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'api-1', url: up.url, version: '1.2.3' }] } },
      },
      { ACCESS_LOG: 'false' },
      logger,
    );
    await (await fetch(`${gw.url}/api/ok`, { headers: { 'x-request-id': 'fine-1' } })).text();
    await (await fetch(`${gw.url}/api/boom`, { headers: { 'x-request-id': 'boom-1' } })).text();
    await gw.close();
    await up.close();
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.find((l) => l.reqId === 'fine-1')).toBeUndefined();
    expect(entries.find((l) => l.reqId === 'boom-1')).toMatchObject({
      level: 'warn',
      msg: 'request',
      status: 500,
      upstream: 'api',
      upstreamInstance: 'api-1',
    });
  });
});

describe.each(['lean', 'node'] as const)('graceful shutdown (%s server)', (server) => {
  it('finishes in-flight requests, refuses new connections, then resolves', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived: () => void = () => {};
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const slow = await listen((_req, res) => {
      arrived();
      void gate.then(() => res.end('done'));
    });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/', service: 'slow', auth: 'none' }],
        services: { slow: { instances: [{ id: 's1', url: slow.url, version: 'v1' }] } },
      },
      { GATEWAY_HTTP_SERVER: server },
    );
    const inflight = fetch(`${gw.url}/work`).then(async (r) => [r.status, await r.text()] as const);
    await reached;
    const closed = gw.gateway.close(5000);
    expect((await fetch(`${gw.url}/readyz`).catch(() => undefined))?.status ?? 'refused').not.toBe(200);
    release();
    expect(await inflight).toEqual([200, 'done']);
    await closed;
    await slow.close();
  });
});
