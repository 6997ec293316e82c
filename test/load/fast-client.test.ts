/**
 * The max-throughput mode (the HTTP/1.1 client shared with the gateway, runtime/lib/http1-client.ts)
 * against real node:http servers: content-length, chunked, split packets, connection: close,
 * 204/HEAD, pipelining and a refused connection.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../src/load/run.ts';
import { buildSummary, type CounterMetric, type RateMetric } from '../../src/load/summary.ts';
import { scenarioFrom } from './scenario-file.ts';
import { startServer, type TestServer } from './servers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startServer((req, res, n) => {
    if (req.url === '/chunked') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"part":');
      setImmediate(() => res.end(`${n}, "done":true}`));
    } else if (req.url === '/close') {
      res.writeHead(200, { connection: 'close', 'content-type': 'text/plain' });
      res.end('bye');
    } else if (req.url === '/empty') {
      res.writeHead(204);
      res.end();
    } else if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 100_000 });
      res.end('x'.repeat(99_990) + 'END-MARKER');
    } else {
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : '{"ok":true}');
    }
  });
});
afterAll(() => server.close());

async function closedRun(requests: string, extra = '') {
  const scenario = scenarioFrom(`
requests:
${requests}
executor: { type: ramping-vus, vus: 4, duration: 1s, client: fast${extra} }
`);
  return buildSummary(await runLoad(scenario, { target: server.url }));
}

describe('fast client', () => {
  it('reads content-length, chunked, 204, HEAD and large split bodies without losing sync', async () => {
    const s = await closedRun(`
  - { name: plain, method: GET, path: /, checks: [{ jsonPath: ok, equals: true }] }
  - { name: chunked, method: GET, path: /chunked, checks: [{ jsonPath: done, equals: true }] }
  - { name: empty, method: GET, path: /empty, checks: [{ status: [204] }] }
  - { name: head, method: HEAD, path: /, checks: [{ status: [200] }] }
  - { name: big, method: GET, path: /big, checks: [{ bodyContains: END-MARKER }] }
  - { name: post, method: POST, path: /, body: { a: '{{uuid}}' }, checks: [{ status: [201] }] }
`);
    expect((s.metrics.http_reqs as CounterMetric).values.count).toBeGreaterThan(100);
    expect((s.metrics.http_req_failed as RateMetric).values.rate).toBe(0);
    for (const c of s.root_group.checks) expect(c.fails, c.name).toBe(0);
    expect(s.root_group.checks).toHaveLength(6);
  });

  it('reconnects after connection: close and pipelines in order', async () => {
    const closing = await closedRun(
      `  - { name: close, method: GET, path: /close, checks: [{ bodyContains: bye }] }`,
    );
    expect((closing.metrics.http_reqs as CounterMetric).values.count).toBeGreaterThan(20);
    expect((closing.metrics.http_req_failed as RateMetric).values.rate).toBe(0);
    const piped = await closedRun(
      `  - { name: chunked, method: GET, path: /chunked, checks: [{ jsonPath: done, equals: true }] }`,
      ', connections: 2, pipelining: 4',
    );
    expect((piped.metrics.http_req_failed as RateMetric).values.rate).toBe(0);
    expect(piped.root_group.checks[0]?.fails).toBe(0);
  });

  it('times out a server that never answers', async () => {
    const silent = await startServer(() => {});
    try {
      const scenario = scenarioFrom(`
defaults: { timeout: 1s }
requests: [{ name: a, method: GET, path: / }]
executor: { type: ramping-vus, vus: 2, duration: 500ms, client: fast }
`);
      const s = buildSummary(await runLoad(scenario, { target: silent.url }));
      expect(s.statuses).toMatchObject({ ETIMEDOUT: 2 });
    } finally {
      await silent.close();
    }
  });

  it('counts a refused connection as failed requests and still ends', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const scenario = scenarioFrom(`
requests: [{ name: a, method: GET, path: / }]
executor: { type: ramping-vus, vus: 2, duration: 500ms, client: fast }
`);
    const s = buildSummary(await runLoad(scenario, { target: `http://127.0.0.1:${port}` }));
    expect((s.metrics.http_req_failed as RateMetric).values.rate).toBe(1);
    expect(Object.keys(s.statuses)).toContain('ECONNREFUSED');
  });
});
