/**
 * Span recording with the OpenTelemetry SDK loaded late: not while a service starts, but a second
 * after it is ready (`warmUp`), or at shutdown. Spans keep the ids handed out in their
 * traceparent, their times, attributes and status, whenever the SDK arrives.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { traceFile } from '../../contract/state-paths.ts';
import { initTracing, parseTraceparent } from '../tracing.ts';

const dir = mkdtempSync(join(tmpdir(), 'lib-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const labels = { service: 'svc', version: '1.0.0', instance: 'svc-1' };

describe('tracing with the SDK loaded late', () => {
  it('does not import the SDK while the service starts, only after it is ready', () => {
    // A child process, so that no other test has loaded the SDK already; the hook sees every
    // module Node resolves.
    const script = `
      import module from 'node:module';
      const loaded = [];
      module.registerHooks({ resolve(s, c, next) { if (s.startsWith('@opentelemetry/')) loaded.push(s); return next(s, c); } });
      const { initTracing } = await import(${JSON.stringify(join(import.meta.dirname, '..', 'tracing.ts'))});
      const tracing = await initTracing({ ...${JSON.stringify(labels)}, tracesDir: ${JSON.stringify(join(dir, 'child'))} });
      tracing.startServerSpan('GET /x', undefined).end();
      await new Promise((r) => setTimeout(r, 50));
      const beforeReady = loaded.length;
      tracing.warmUp();
      // warmUp loads it a second later; the timer keeps nothing alive, so wait here.
      await new Promise((r) => setTimeout(r, 2000));
      const afterReady = loaded.length;
      await tracing.shutdown();
      console.log(JSON.stringify({ beforeReady, afterReady }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { beforeReady: number; afterReady: number };
    expect(out.beforeReady).toBe(0);
    expect(out.afterReady).toBeGreaterThan(0);
  });

  it('exports spans with the ids of their traceparents, parents, attributes and status', async () => {
    const tracesDir = join(dir, 'spans');
    const tracing = await initTracing({ ...labels, tracesDir });
    const caller = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const server = tracing.startServerSpan('GET /items/:id', caller, { 'http.method': 'GET' });
    const client = tracing.startClientSpan('GET auth', server.traceparent);
    server.setAttribute('http.status_code', 503);
    client.end('upstream refused');
    server.end(true);
    const unsampled = tracing.startServerSpan(
      'GET /quiet',
      '00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00',
    );
    expect(parseTraceparent(unsampled.traceparent)?.flags).toBe('00');
    unsampled.end();
    await tracing.shutdown();

    const spans = readFileSync(traceFile(tracesDir, 'svc'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(spans).toHaveLength(2);
    const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
    expect(byName['GET /items/:id']).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: server.spanId,
      parentSpanId: 'b7ad6b7169203331',
      kind: 'server',
      status: 'error',
      attributes: { 'http.method': 'GET', 'http.status_code': 503 },
    });
    expect(byName['GET auth']).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: client.spanId,
      parentSpanId: server.spanId,
      kind: 'client',
      status: 'error',
      statusMessage: 'upstream refused',
    });
    expect(server.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${server.spanId}-01`);
    for (const s of spans) {
      expect(s.durationMs as number).toBeGreaterThanOrEqual(0);
      expect(Math.abs((s.startMs as number) - Date.now())).toBeLessThan(60_000);
    }
  });
});
