import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statsWindowParam } from '../../runtime/contract/gateway-admin.ts';
import { GatewayMetricSource } from '../../src/providers/metrics/gateway.ts';

let server: Server;
let base: string;
const seen: { url: string; auth: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    if (req.headers.authorization !== 'Bearer secret') return void res.writeHead(401).end();
    if (req.url?.endsWith('service=legacy')) {
      // A shape the old reader "reasonably" accepted: a list of leaves.
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify([{ service: 'legacy', version: 'v1', count: 5 }]));
    }
    const zero = { requests: 0, errors: 0, errorRate: 0, rps: 0, p50: 0, p95: 0, p99: 0, max: 0 };
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        windowMs: 3000,
        services: {
          web: {
            total: zero,
            versions: {
              v1: {
                requests: 300,
                errors: 3,
                errorRate: 0.01,
                rps: 100,
                p50: 4.2,
                p95: 9.9,
                p99: 20.5,
                max: 30,
              },
              v2: zero,
            },
          },
        },
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('gateway metric source', () => {
  it('reads per-version stats over a whole-second window with the admin token', async () => {
    const source = new GatewayMetricSource(base, 'secret');
    expect(await source.query('web', 'v1', 2500)).toEqual({
      requests: 300,
      errors: 3,
      errorRate: 0.01,
      p50: 4.2,
      p95: 9.9,
      p99: 20.5,
    });
    expect(seen.at(-1)).toEqual({ url: '/admin/stats?window=3s&service=web', auth: 'Bearer secret' });
  });

  it('no requests means no data (never zero latencies), unknown versions too', async () => {
    const source = new GatewayMetricSource(base, 'secret');
    expect(await source.query('web', 'v2', 1000)).toEqual({ requests: 0, errors: 0 });
    expect(await source.query('web', 'v9', 1000)).toEqual({ requests: 0, errors: 0 });
    expect(await source.query('other', 'v1', 1000)).toEqual({ requests: 0, errors: 0 });
  });

  it('stable and canary asked in the same tick share one request', async () => {
    const source = new GatewayMetricSource(base, 'secret', { cacheMs: 10_000 });
    const before = seen.length;
    await Promise.all([source.query('web', 'v1', 5000), source.query('web', 'v2', 5000)]);
    expect(seen.length - before).toBe(1);
  });

  it('clamps the window to the gateway range (1s to 5m)', async () => {
    expect(statsWindowParam(200)).toBe('1s');
    expect(statsWindowParam(10_001)).toBe('11s');
    expect(statsWindowParam(3_600_000)).toBe('300s');
    await new GatewayMetricSource(base, 'secret').query('web', 'v1', 3_600_000);
    expect(seen.at(-1)?.url).toBe('/admin/stats?window=300s&service=web');
  });

  it('an answer outside the contract is an error, never numbers guessed from it', async () => {
    const source = new GatewayMetricSource(base, 'secret');
    await expect(source.query('legacy', 'v1', 1000)).rejects.toThrow(/does not understand/);
  });

  it('a wrong token is a clear error', async () => {
    await expect(new GatewayMetricSource(base, 'nope').query('web', 'v1', 1000)).rejects.toThrow(
      /answered 401/,
    );
  });
});
