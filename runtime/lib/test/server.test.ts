import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EnvConfigError, parseConfig } from '../config.ts';
import { badRequest, dependencyUnavailable } from '../http-errors.ts';
import { currentRequest } from '../request-context.ts';
import { createService, type RunningService } from '../server.ts';
import { spawnService } from './fixtures/spawn-service.ts';

let dir: string;
let service: RunningService;
let base: string;
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lib-server-'));
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  service = await createService(
    {
      name: 'kit-test',
      migrations: [{ id: '001', up: 'CREATE TABLE t (x INTEGER)' }],
      bus: true,
      bodyLimit: 1024,
      routes(app) {
        app.post('/echo', async (request) => {
          const body = z.object({ name: z.string().max(20) }).parse(request.body);
          return { hello: body.name, reqId: currentRequest()?.reqId };
        });
        app.get('/bad', async () => {
          throw badRequest('nope');
        });
        app.get('/db-down', async () => {
          throw dependencyUnavailable('DATABASE_UNAVAILABLE', 'database', 'down', new Error('ECONNREFUSED'));
        });
        app.get('/boom', async () => {
          throw new Error('secret internal detail');
        });
        app.get('/answers-500', async (_request, reply) => reply.status(500).send({ oops: true }));
        app.get('/log-secret', async (request) => {
          request.log.info({ password: 'hunter2', headers: { authorization: 'Bearer abc' } }, 'careless');
          return {};
        });
      },
    },
    { env: { PORT: '0', DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'debug' }, logDestination: destination },
  );
  base = (await service.listen()).url;
});
afterAll(async () => {
  await service.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('createService', () => {
  it('serves health, readiness and metrics', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', bus: 'ok' } });
    const deps = (await (await fetch(`${base}/health/dependencies`)).json()) as {
      dependencies: Record<string, { status: string; critical: boolean }>;
    };
    expect(deps.dependencies).toMatchObject({
      database: { status: 'up', critical: false },
      bus: { status: 'up', critical: false },
    });
    await fetch(`${base}/bad`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/http_requests_total\{[^}]*method="GET"[^}]*route="\/bad"[^}]*code="400"/);
    expect(metrics).toContain('http_request_duration_seconds_bucket');
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('honours x-request-id and traceparent and logs them', async () => {
    const traceId = '4bf92f3577b34da6a3ce929e0e4736aa';
    const res = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-request-id': 'req-123',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      body: JSON.stringify({ name: 'ada' }),
    });
    expect(res.headers.get('x-request-id')).toBe('req-123');
    expect(await res.json()).toEqual({ hello: 'ada', reqId: 'req-123' });
    const line = lines.find((l) => l.reqId === 'req-123' && l.msg === 'request');
    expect(line).toMatchObject({ traceId, service: 'kit-test', version: 'dev', route: '/echo', status: 200 });
    expect(lines.some((l) => l.msg === 'listening' && typeof l.port === 'number')).toBe(true);
  });

  it('answers bad input with 4xx and the JSON error shape, and hides internal errors', async () => {
    const post = (body: string, type = 'application/json') =>
      fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': type }, body });
    const cases = [
      [await post('{"name":'), 400],
      [await post('{"name": 42}'), 400],
      [await post(JSON.stringify({ name: 'x'.repeat(2000) })), 413],
      [await post('{"__proto__": {"x": 1}}'), 400],
      [await post('<name/>', 'application/xml'), 415],
      [await fetch(`${base}/bad`), 400],
      [await fetch(`${base}/nope`), 404],
    ] as const;
    for (const [res, status] of cases) {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await res.json()) as { code: string; detail: string; status: number };
      expect(body.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(typeof body.detail).toBe('string');
      expect(body.status).toBe(status);
    }
    const boom = await fetch(`${base}/boom`);
    expect(boom.status).toBe(500);
    expect(await boom.json()).toEqual({
      type: 'tag:platformctl,2026:problem:internal',
      title: 'Internal Server Error',
      status: 500,
      detail: 'internal error',
      code: 'INTERNAL',
      requestId: boom.headers.get('x-request-id'),
    });
  });

  it('answers a missing backend with 503, Retry-After and the dependency, and logs it', async () => {
    const res = await fetch(`${base}/db-down`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ code: 'DATABASE_UNAVAILABLE', dependency: 'database' });
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'dependency unavailable',
        dependency: 'database',
        cause: 'ECONNREFUSED',
      }),
    );
  });

  it('logs every 5xx at error with its request id and what went wrong', async () => {
    const cases = [
      ['/boom', 'INTERNAL: secret internal detail'],
      ['/db-down', 'DATABASE_UNAVAILABLE: down'],
      ['/answers-500', 'HTTP 500'],
    ] as const;
    for (const [path, error] of cases) {
      const reqId = `fail-${path.slice(1)}`;
      await (await fetch(`${base}${path}`, { headers: { 'x-request-id': reqId } })).text();
      expect(lines.find((l) => l.reqId === reqId && l.msg === 'request failed')).toMatchObject({
        level: 'error',
        route: path,
        error,
      });
    }
  });

  it('redacts secrets from logs', async () => {
    await fetch(`${base}/log-secret`);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('Bearer abc');
  });
});

describe('default process metrics', () => {
  it('are made at the first scrape or after readiness, not while the service starts', async () => {
    const quiet = new Writable({ write: (_chunk, _enc, cb) => cb() });
    const fresh = await createService(
      { name: 'metrics-later', routes() {} },
      { env: { PORT: '0', DATA_DIR: join(dir, 'metrics-later') }, logDestination: quiet },
    );
    try {
      expect(fresh.deps.metrics.registry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
      const scrape = await fresh.app.inject({ method: 'GET', url: '/metrics' });
      expect(scrape.body).toContain('process_cpu_user_seconds_total');
      expect(scrape.body).toContain('nodejs_eventloop_lag_seconds');
    } finally {
      await fresh.close();
    }
  });
});

describe('config', () => {
  it('fills defaults and lists every invalid variable', () => {
    const c = parseConfig('svc', { PORT: '0', DATA_DIR: '/tmp/x/svc' });
    expect(c).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      version: 'dev',
      databaseUrl: 'sqlite:///tmp/x/svc/svc.db',
      busUrl: 'embedded:///tmp/x/bus',
      blobsUrl: 'file:///tmp/x/svc/blobs',
    });
    try {
      parseConfig(
        'svc',
        { PORT: 'abc', LOG_LEVEL: 'loud', AUTH_URL: 'not a url' },
        z.object({ FOO: z.string() }),
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EnvConfigError);
      const problems = (err as EnvConfigError).problems.join('\n');
      for (const key of ['PORT', 'LOG_LEVEL', 'AUTH_URL', 'FOO']) expect(problems).toContain(key);
    }
  });

  it('a service exits 1 with a clear message on invalid env', async () => {
    const proc = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', 'slow-service.ts')], {
      env: { ...process.env, PORT: 'nope' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d) => {
      err += String(d);
    });
    const code = await new Promise((r) => proc.on('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('PORT');
  });
});

describe('graceful shutdown', () => {
  it('drains an in-flight request on SIGTERM, then exits 0', async () => {
    const { proc, port, exited } = await spawnService('slow-service.ts', { DATA_DIR: join(dir, 'slow') });
    expect(port).toBeTypeOf('number');
    const inFlight = fetch(`http://127.0.0.1:${port}/slow`);
    await new Promise((r) => setTimeout(r, 100));
    proc.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ done: true });
    expect(await exited).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
