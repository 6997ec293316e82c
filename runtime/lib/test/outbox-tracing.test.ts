import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService, type RunningService } from '../server.ts';
import type { BusEvent } from '../storage/bus.ts';
import { enqueueOutbox, outboxMigration, startOutboxRelay } from '../storage/outbox.ts';

let dir: string;
const running: RunningService[] = [];
const silent = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lib-outbox-'));
});
afterAll(async () => {
  for (const s of running) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('outbox relay', () => {
  it('publishes events of committed transactions only', async () => {
    const svc = await createService(
      {
        name: 'producer',
        migrations: [outboxMigration, { id: '001', up: 'CREATE TABLE items (id TEXT PRIMARY KEY)' }],
        bus: true,
        routes() {},
      },
      { env: { PORT: '0', DATA_DIR: join(dir, 'producer') }, logDestination: silent() },
    );
    running.push(svc);
    const { db, bus } = svc.deps;
    const received: BusEvent[] = [];
    bus.subscribe('items.created', 'test', (e) => {
      received.push(e);
    });
    const relay = startOutboxRelay({ db, bus, intervalMs: 10 });
    await db.transaction(async (tx) => {
      await tx.run('INSERT INTO items (id) VALUES (?)', ['kept']);
      await enqueueOutbox(tx, 'items.created', { id: 'evt-kept', item: 'kept' });
    });
    await db
      .transaction(async (tx) => {
        await enqueueOutbox(tx, 'items.created', { id: 'evt-rolled-back' });
        throw new Error('abort');
      })
      .catch(() => {});
    relay.nudge();
    await relay.flush();
    for (let i = 0; i < 300 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await relay.stop();
    expect(received.map((e) => e.id)).toEqual(['evt-kept']);
    expect(received[0]).toMatchObject({ item: 'kept' });
    expect(await db.get('SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL')).toEqual({ n: 0 });
  });
});

describe('tracing and the http client', () => {
  it('propagates request id and trace across services and writes spans to TRACES_DIR', async () => {
    const tracesDir = join(dir, 'traces');
    const downstream = await createService(
      {
        name: 'down',
        routes(app) {
          app.get('/who', async (request) => ({
            reqId: request.id,
            traceparent: request.headers.traceparent,
            traceId: request.span.traceId,
          }));
        },
      },
      { env: { PORT: '0', DATA_DIR: join(dir, 'down'), TRACES_DIR: tracesDir }, logDestination: silent() },
    );
    running.push(downstream);
    const downUrl = (await downstream.listen()).url;
    const upstream = await createService(
      {
        name: 'up',
        routes(app, deps) {
          const client = deps.httpClient(downUrl);
          app.get('/call', async () => client.json('/who'));
        },
      },
      { env: { PORT: '0', DATA_DIR: join(dir, 'up'), TRACES_DIR: tracesDir }, logDestination: silent() },
    );
    running.push(upstream);
    const upUrl = (await upstream.listen()).url;
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await fetch(`${upUrl}/call`, {
      headers: { 'x-request-id': 'abc-1', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
    });
    const body = (await res.json()) as { reqId: string; traceId: string; traceparent: string };
    expect(body.reqId).toBe('abc-1');
    expect(body.traceId).toBe(traceId);
    await upstream.deps.tracing.shutdown();
    await downstream.deps.tracing.shutdown();
    const spans = ['up', 'down'].flatMap((s) =>
      readFileSync(join(tracesDir, `${s}.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map(
          (l) => JSON.parse(l) as { traceId: string; spanId: string; parentSpanId?: string; kind: string },
        ),
    );
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const server = inTrace.find((s) => s.kind === 'server' && s.parentSpanId === 'b7ad6b7169203331');
    const client = inTrace.find((s) => s.kind === 'client' && s.parentSpanId === server?.spanId);
    const downServer = inTrace.find((s) => s.kind === 'server' && s.parentSpanId === client?.spanId);
    expect(server && client && downServer).toBeTruthy();
  });

  it('does not trace probes and scrapes unless TRACE_PROBES=true', async () => {
    const spansOf = async (name: string, env: Record<string, string>) => {
      const tracesDir = join(dir, `traces-${name}`);
      const svc = await createService(
        {
          name,
          routes(app) {
            app.get('/work', async () => ({ ok: true }));
          },
        },
        {
          env: { PORT: '0', DATA_DIR: join(dir, name), TRACES_DIR: tracesDir, ...env },
          logDestination: silent(),
        },
      );
      running.push(svc);
      const url = (await svc.listen()).url;
      for (const path of ['/metrics', '/healthz', '/readyz', '/health/dependencies', '/work'])
        await (await fetch(`${url}${path}`)).text();
      await svc.deps.tracing.shutdown();
      return readFileSync(join(tracesDir, `${name}.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { name: string }).name);
    };
    expect(await spansOf('quiet', {})).toEqual(['GET /work']);
    expect((await spansOf('loud', { TRACE_PROBES: 'true' })).sort()).toEqual(
      ['GET /health/dependencies', 'GET /healthz', 'GET /metrics', 'GET /readyz', 'GET /work'].sort(),
    );
  });
});
