import { describe, expect, it } from 'vitest';
import { FaultTable } from '../src/faults.ts';
import { parseGatewayConfig } from '../src/gateway-config.ts';
import { upstreamHeaders } from '../src/headers.ts';
import { idOnlySpan, uuid } from '../src/ids.ts';
import { RateLimiter } from '../src/rate-limiter.ts';
import { isHostilePath, PathPatterns, RoutingTable } from '../src/routing-table.ts';

describe('RoutingTable', () => {
  const table = new RoutingTable([
    { prefix: '/', service: 'web' },
    { prefix: '/content', service: 'content' },
    { prefix: '/content/admin/', service: 'admin' },
    { prefix: '/auth', service: 'auth' },
  ]);

  it('picks the longest whole-segment prefix', () => {
    expect(table.match('/content/admin/x')?.service).toBe('admin');
    expect(table.match('/content/admin')?.service).toBe('admin');
    expect(table.match('/content/administrator')?.service).toBe('content');
    expect(table.match('/contents')?.service).toBe('web');
    expect(table.match('/')?.service).toBe('web');
  });

  it('defaults auth to none for /auth and required elsewhere', () => {
    expect(table.match('/auth/login')?.auth).toBe('none');
    expect(table.match('/content/1')?.auth).toBe('required');
  });

  it("fills in a route's own rate limit once, with a burst of twice the rate when none is given", () => {
    const limited = new RoutingTable([
      { prefix: '/a', service: 'a', rateLimit: { rps: 3 } },
      { prefix: '/b', service: 'b', rateLimit: { rps: 0.2, burst: 5 } },
      { prefix: '/c', service: 'c', rateLimit: { rps: 0.2 } },
    ]);
    expect(limited.match('/a')?.ownRateLimit).toEqual({ rps: 3, burst: 6 });
    expect(limited.match('/b')?.ownRateLimit).toEqual({ rps: 0.2, burst: 5 });
    expect(limited.match('/c')?.ownRateLimit).toEqual({ rps: 0.2, burst: 1 });
    expect(table.match('/content')?.ownRateLimit).toBeUndefined();
  });
});

describe('isHostilePath', () => {
  it('accepts ordinary paths and refuses traversal in every spelling', () => {
    for (const p of ['/', '/content/1/raw', '/a.b/c..d/.well-known', '/x%20y'])
      expect(isHostilePath(p), p).toBe(false);
    for (const p of [
      '/../x',
      '/a/./b',
      '/a/%2e%2e/b',
      '/a/%2E./b',
      '/a%2f..%2fb',
      '/a\\b',
      '/a%5c..',
      '/%00',
      '/%zz',
      'x',
    ])
      expect(isHostilePath(p), p).toBe(true);
  });
});

describe('PathPatterns', () => {
  it('matches method and segment wildcards exactly', () => {
    const p = new PathPatterns(['GET /content/*/raw']);
    expect(p.matches('GET', '/content/abc/raw')).toBe(true);
    expect(p.matches('POST', '/content/abc/raw')).toBe(false);
    expect(p.matches('GET', '/content/abc/raw/x')).toBe(false);
    expect(p.matches('GET', '/content/raw')).toBe(false);
  });

  it('tries every pattern of the method and segment count', () => {
    const p = new PathPatterns(['GET /a/*', 'GET /b/*', 'HEAD /a/*/c']);
    expect(p.matches('GET', '/b/x')).toBe(true);
    expect(p.matches('GET', '/a/x')).toBe(true);
    expect(p.matches('HEAD', '/a/x/c')).toBe(true);
    expect(p.matches('HEAD', '/a/x')).toBe(false);
    expect(p.matches('GET', '/c/x')).toBe(false);
    expect(p.matches('GET', '/a/x/c')).toBe(false);
    expect(new PathPatterns([]).matches('GET', '/a/x')).toBe(false);
  });
});

describe('RateLimiter', () => {
  it('refills at the configured rate up to the burst', () => {
    const rl = new RateLimiter();
    const limit = { rps: 10, burst: 2 };
    expect(rl.take('a', limit, 0).ok).toBe(true);
    expect(rl.take('a', limit, 0).ok).toBe(true);
    const denied = rl.take('a', limit, 0);
    expect(denied).toEqual({ ok: false, retryAfterS: 1 });
    expect(rl.take('b', limit, 0).ok).toBe(true);
    expect(rl.take('a', limit, 100).ok).toBe(true);
    expect(rl.take('a', limit, 100).ok).toBe(false);
    expect(rl.take('a', { rps: 0, burst: 0 }, 100).ok).toBe(true);
  });
});

describe('FaultTable', () => {
  it('matches by service, version and route prefix, and sums delays', () => {
    const t = new FaultTable();
    t.add({ service: 'api', delayMs: 100 });
    t.add({ service: 'api', version: 'v2', route: '/api/slow', delayMs: 50, abortPct: 100 });
    expect(t.apply('other', 'v1', '/x')).toBeUndefined();
    expect(t.apply('api', 'v1', '/api/slow')).toEqual({ delayMs: 100, abort: undefined });
    const both = t.apply('api', 'v2', '/api/slow/x');
    expect(both?.delayMs).toBe(150);
    expect(both?.abort?.status).toBe(503);
    expect(t.apply('api', 'v2', '/api/slower')?.abort).toBeUndefined();
  });
});

describe('upstreamHeaders', () => {
  it('drops hop-by-hop, connection-listed and identity headers and appends forwarding ones', () => {
    const raw = [
      'Host',
      'gw',
      'Connection',
      'keep-alive, X-Secret-Hop',
      'X-Secret-Hop',
      '1',
      'X-User-Id',
      'root',
      'X-Forwarded-For',
      '10.0.0.1',
      'Accept',
      '*/*',
    ];
    const headers = { host: 'gw', connection: 'keep-alive, X-Secret-Hop', 'x-forwarded-for': '10.0.0.1' };
    const out = upstreamHeaders(raw, headers, {
      requestId: 'r1',
      traceparent: 'tp',
      clientIp: '127.0.0.1',
      userId: 'u1',
      role: 'viewer',
    });
    const pairs = Object.fromEntries(out.flatMap((v, i) => (i % 2 ? [] : [[v.toLowerCase(), out[i + 1]]])));
    expect(pairs).toEqual({
      accept: '*/*',
      'x-forwarded-for': '10.0.0.1, 127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw',
      'x-request-id': 'r1',
      traceparent: 'tp',
      'x-user-id': 'u1',
      'x-user-role': 'viewer',
    });
  });
});

describe('parseGatewayConfig', () => {
  it('reports every problem with its path', () => {
    expect(() =>
      parseGatewayConfig({
        routes: [{ prefix: 'x', service: 'a' }],
        services: { a: { instances: [{ id: 'i', url: 'ftp://x' }] } },
      }),
    ).toThrow(/routes\.0\.prefix[\s\S]*services\.a\.instances\.0\.url/);
  });

  it('declares services that routes name but the file does not list', () => {
    expect(parseGatewayConfig({ routes: [{ prefix: '/x', service: 'later' }] }).services.later).toEqual({
      instances: [],
    });
  });
});

describe('ids', () => {
  it('starts a new trace with fresh random trace and span ids, distinct across more than one pool fill', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const span = idOnlySpan(undefined);
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(span.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`);
      expect(span.traceId.slice(0, 16)).not.toBe(span.spanId);
      seen.add(span.traceId).add(span.spanId);
      expect(uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(seen.size).toBe(10_000);
  });

  it("continues a caller's trace with its flags and a new span id", () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const span = idOnlySpan(parent);
    expect(span.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(span.spanId).not.toBe('b7ad6b7169203331');
    expect(span.traceparent).toBe(`00-0af7651916cd43dd8448eb211c80319c-${span.spanId}-00`);
  });
});
