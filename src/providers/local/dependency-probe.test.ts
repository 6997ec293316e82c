import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { InstanceStatus } from '../provider.ts';
import { downDependencies } from './dependency-probe.ts';

const servers: ReturnType<typeof createServer>[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

async function instance(dependencies: unknown): Promise<InstanceStatus> {
  const server = createServer((req, res) => {
    if (req.url === '/health/dependencies') res.end(JSON.stringify({ service: 'content', dependencies }));
    else res.writeHead(404).end();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { id: `content-${port}`, url: `http://127.0.0.1:${port}`, state: 'ready', port } as InstanceStatus;
}

describe('downDependencies', () => {
  it('lists each backend down on any instance once, with the earliest since', async () => {
    const a = await instance({
      database: { status: 'down', since: '2026-12-07T12:00:05.000Z', error: 'ECONNREFUSED', critical: false },
      bus: { status: 'up', since: '2026-12-07T11:00:00.000Z', critical: false },
    });
    const b = await instance({
      database: { status: 'down', since: '2026-12-07T12:00:02.000Z', critical: false },
    });
    const gone = { ...a, id: 'content-x', url: 'http://127.0.0.1:1' };
    const stopped = { ...b, state: 'stopped' } as InstanceStatus;
    expect(await downDependencies([a, b, gone, stopped])).toEqual([
      { dependency: 'database', since: '2026-12-07T12:00:02.000Z' },
    ]);
  });
});
