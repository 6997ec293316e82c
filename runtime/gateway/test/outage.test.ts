import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, admin, listen, startGateway, type TestGateway } from './helpers.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

async function metrics(gw: TestGateway): Promise<string> {
  return (await fetch(`${gw.url}/metrics`)).text();
}

async function stats(gw: TestGateway) {
  const body = (await (await admin(gw, 'GET', '/admin/stats?window=10s')).json()) as {
    services: Record<string, { total: { requests: number; errors: number } }>;
  };
  return body.services;
}

describe('backend outages at the gateway', () => {
  it('keeps an instance whose database is down routed: its other routes still serve', async () => {
    let hits = 0;
    const upstream = await listen((req: IncomingMessage, res: ServerResponse) => {
      hits++;
      if (req.url?.startsWith('/api/needs-db')) {
        res.writeHead(503, { 'retry-after': '1', 'x-dependency-unavailable': 'database' }).end('{}');
      } else res.writeHead(200).end('ok');
    });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: upstream.url }] } },
      },
      { BREAKER_FAILURES: '3', ADMIN_TOKEN },
    );
    cleanup.push(upstream.close, gw.close);
    for (let i = 0; i < 10; i++) {
      const r = await fetch(`${gw.url}/api/needs-db`);
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('1');
    }
    // Not retried (a sibling shares the backend) and not ejected: reads without the database work.
    expect(hits).toBe(10);
    expect((await fetch(`${gw.url}/api/raw`)).status).toBe(200);
    const text = await metrics(gw);
    expect(text).toMatch(/gateway_unserved_requests_total\{service="api",reason="database unavailable"\} 10/);
    expect(text).not.toMatch(/gateway_upstream_ejections_total\{/);
  });

  it('counts requests that found no instance as errors of the service, with the reason', async () => {
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [] } },
      },
      { ADMIN_TOKEN },
    );
    cleanup.push(gw.close);
    for (let i = 0; i < 4; i++) expect((await fetch(`${gw.url}/api/x`)).status).toBe(503);
    expect((await stats(gw)).api?.total).toMatchObject({ requests: 4, errors: 4 });
    expect(await metrics(gw)).toMatch(
      /gateway_unserved_requests_total\{service="api",reason="no ready instance"\} 4/,
    );
  });
});
