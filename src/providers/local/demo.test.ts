import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { seedDemo } from './demo.ts';

/**
 * A gateway answering as the platform's services do, except that analytics sheds the first
 * `busy` event batches with 503 + Retry-After, as it does while its read models catch up.
 */
function gateway(busy: number, retryAfter: string | undefined): Promise<{ url: string; batches: number[] }> {
  const batches: number[] = [];
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/auth/signup') return reply(201, {});
      if (req.url === '/auth/login') return reply(200, { accessToken: 'a.e30.c' });
      if (req.url === '/content') return reply(201, { id: `c${Math.random()}` });
      const { events } = JSON.parse(Buffer.concat(chunks).toString()) as { events: unknown[] };
      batches.push(events.length);
      if (batches.length <= busy)
        return reply(
          503,
          { type: 'about:blank', status: 503, code: 'INGEST_LAGGING', detail: 'behind' },
          retryAfter === undefined ? {} : { 'retry-after': retryAfter },
        );
      return reply(202, { accepted: events.length });
    });
  });
  server = srv;
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, batches }),
    ),
  );
}

let server: Server | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

describe('seedDemo against a busy analytics', () => {
  it('sends the views again after Retry-After until they are accepted', async () => {
    const gw = await gateway(2, '0');
    const result = await seedDemo(gw.url, { email: 'demo@example.com', views: 7 });
    expect(gw.batches).toEqual([7, 7, 7]);
    expect(result.views).toBe(7);
  });

  it("stops with the service's problem when a 503 does not say when to come back", async () => {
    const gw = await gateway(1, undefined);
    await expect(seedDemo(gw.url, { email: 'demo@example.com', views: 3 })).rejects.toThrow(
      /answered 503 INGEST_LAGGING/,
    );
    expect(gw.batches).toEqual([3]);
  });
});
