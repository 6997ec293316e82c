/** Span store assembly and waterfall layout; security events from log lines (shape, no secrets). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  collectEvents,
  fromServiceLog,
  recordPolicyViolations,
} from '../../src/observability/audit-events.ts';
import { findTraces, readSpans, type SpanRecord, waterfall } from '../../src/observability/traces.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'obs-unit-'));
  dirs.push(d);
  return d;
}

const span = (over: Partial<SpanRecord>): SpanRecord => ({
  traceId: 't1',
  spanId: 's',
  service: 'gateway',
  name: 'x',
  kind: 'server',
  startMs: 1000,
  durationMs: 10,
  status: 'ok',
  attributes: {},
  ...over,
});

describe('traces', () => {
  it('reads the store, skips torn lines, nests children and scales bars to the trace', () => {
    const dir = tmp();
    const spans = [
      span({ spanId: 'a', service: 'gateway', durationMs: 100, attributes: { 'http.request_id': 'r1' } }),
      span({ spanId: 'b', parentSpanId: 'a', service: 'content', startMs: 1010, durationMs: 50 }),
      span({
        spanId: 'c',
        parentSpanId: 'b',
        service: 'analytics',
        startMs: 1080,
        durationMs: 20,
        status: 'error',
      }),
      span({ traceId: 't2', spanId: 'z', startMs: 5000, durationMs: 400 }),
    ];
    writeFileSync(
      join(dir, 'gateway.jsonl'),
      `${spans.map((s) => JSON.stringify(s)).join('\n')}\n{"traceId":`,
    );
    const read = readSpans(dir);
    expect(read).toHaveLength(4);
    const [t] = findTraces(read, { requestId: 'r1' });
    expect(t).toMatchObject({
      traceId: 't1',
      services: ['gateway', 'content', 'analytics'],
      errors: 1,
      durationMs: 100,
    });
    const rows = waterfall(t!, 40);
    expect(rows.map((r) => [r.span.spanId, r.depth, r.offset, r.width])).toEqual([
      ['a', 0, 0, 40],
      ['b', 1, 4, 20],
      ['c', 2, 32, 8],
    ]);
    expect(findTraces(read, { slowMs: 200 }).map((x) => x.traceId)).toEqual(['t2']);
    expect(findTraces(read, { requestId: 'other' }, ['t2']).map((x) => x.traceId)).toEqual(['t2']);
  });

  it('survives a span that names itself as parent', () => {
    const [t] = findTraces([span({ spanId: 'a', parentSpanId: 'a' })], {});
    expect(waterfall(t!)).toHaveLength(1);
  });
});

describe('security events', () => {
  it('maps an auth failure to ECS fields and drops secret-looking keys', () => {
    const e = fromServiceLog(
      {
        audit: true,
        type: 'auth.login_failed',
        email: 'a@example.com',
        ip: '::ffff:10.0.0.7',
        reason: 'bad_password',
        password: 'hunter2',
        refreshToken: 'rt-secret',
        familyId: 'f1',
        msg: 'auth.login_failed',
      },
      'auth',
      Date.UTC(2026, 0, 1),
    );
    expect(e).toMatchObject({
      '@timestamp': '2026-01-01T00:00:00.000Z',
      event: {
        category: ['authentication'],
        action: 'auth.login_failed',
        outcome: 'failure',
        reason: 'bad_password',
      },
      user: { email: 'a@example.com' },
      source: { ip: '10.0.0.7' },
      labels: { familyId: 'f1' },
    });
    expect(JSON.stringify(e)).not.toMatch(/hunter2|rt-secret/);
  });

  it('collects service logs, the CLI audit log and policy violations, filtered by type', () => {
    const root = tmp();
    mkdirSync(join(root, '.platform', 'logs'), { recursive: true });
    writeFileSync(
      join(root, '.platform', 'logs', 'gateway-1.log'),
      [
        JSON.stringify({ level: 30, time: Date.now(), service: 'gateway', msg: 'request' }),
        JSON.stringify({
          level: 40,
          time: Date.now(),
          service: 'gateway',
          audit: true,
          type: 'gateway.admin_denied',
          method: 'GET',
          path: '/admin/state',
          status: 401,
          ip: '127.0.0.1',
        }),
      ].join('\n') + '\n',
    );
    recordPolicyViolations(root, [
      {
        rule: 'no-public-bucket',
        severity: 'error',
        stack: 's',
        resource: 'aws_s3_bucket.x',
        message: 'public',
      },
    ]);
    const all = collectEvents(root);
    expect(all.map((e) => e.event.action).sort()).toEqual(['gateway.admin_denied', 'policy.violation']);
    expect(collectEvents(root, { type: 'policy' })).toHaveLength(1);
    expect(collectEvents(root, { service: 'gateway' })[0]).toMatchObject({
      event: { kind: 'alert', outcome: 'failure' },
      http: { request: { method: 'GET' }, response: { status_code: 401 } },
    });
  });
});
