/**
 * The trace crosses the bus: an event enqueued in the outbox (or published) while handling a
 * request carries its traceparent, and the consumer handles it inside a span of the same trace.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { currentRequest } from '../request-context.ts';
import { createService, type RunningService } from '../server.ts';
import { enqueueOutbox, outboxMigration, startOutboxRelay } from '../storage/outbox.ts';

const dir = mkdtempSync(join(tmpdir(), 'lib-bus-tracing-'));
const running: RunningService[] = [];
afterAll(async () => {
  for (const s of running) await s.close();
  rmSync(dir, { recursive: true, force: true });
});
const silent = () =>
  new Writable({
    write(_c, _e, cb) {
      cb();
    },
  });

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

describe('tracing across the bus', () => {
  it('outbox and publish carry the request trace; the consumer continues it', async () => {
    const tracesDir = join(dir, 'traces');
    const seen: { id: string; traceId: string | undefined }[] = [];
    const svc = await createService(
      {
        name: 'producer',
        migrations: [outboxMigration],
        bus: true,
        routes(app, deps) {
          const relay = startOutboxRelay({ db: deps.db, bus: deps.bus, intervalMs: 10 });
          deps.onClose(() => relay.stop());
          app.post('/outbox', async () => {
            await deps.db.transaction((tx) => enqueueOutbox(tx, 'things.made', { id: 'via-outbox' }));
            relay.nudge();
            return { ok: true };
          });
          app.post('/publish', async () => {
            await deps.bus.publish('things.made', { id: 'via-publish' });
            return { ok: true };
          });
        },
        start(deps) {
          deps.bus.subscribe('things.made', 'test', (event) => {
            seen.push({ id: event.id, traceId: currentRequest()?.traceId });
          });
        },
      },
      { env: { PORT: '0', DATA_DIR: join(dir, 'p'), TRACES_DIR: tracesDir }, logDestination: silent() },
    );
    running.push(svc);
    const { url } = await svc.listen();
    const traces = ['0af7651916cd43dd8448eb211c80319c', '1bf7651916cd43dd8448eb211c80319d'];
    for (const [i, path] of ['/outbox', '/publish'].entries()) {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { traceparent: `00-${traces[i]}-b7ad6b7169203331-01` },
      });
      expect(res.status).toBe(200);
    }
    for (let i = 0; i < 300 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([
      { id: 'via-outbox', traceId: traces[0] },
      { id: 'via-publish', traceId: traces[1] },
    ]);
    await svc.deps.tracing.shutdown();
    const spans = readFileSync(join(tracesDir, 'producer.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Span);
    for (const traceId of traces) {
      const server = spans.find((s) => s.traceId === traceId && s.name.startsWith('POST'));
      const consumer = spans.find((s) => s.traceId === traceId && s.name === 'consume things.made');
      expect(consumer?.parentSpanId).toBe(server?.spanId);
    }
  });
});
