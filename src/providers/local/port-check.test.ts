import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PlatformError } from '../../core/errors.ts';
import { assertPortFree, nextPort } from './port-check.ts';

describe('port checks', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  async function hold(): Promise<number> {
    const s = createServer();
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    return (s.address() as { port: number }).port;
  }

  it('names the process holding a busy port and says what to do', async () => {
    const port = await hold();
    const err = await assertPortFree(port, 'content (instance 1)').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformError);
    const e = err as PlatformError;
    expect(e.code).toBe('PORT_IN_USE');
    expect(e.message).toContain(
      `port ${port} for content (instance 1) is already in use by process ${process.pid}`,
    );
    expect(e.hint).toContain(`kill ${process.pid}`);
  });

  it('skips reserved and busy ports when choosing the next one', async () => {
    const busy = await hold();
    const port = await nextPort(busy, new Set([busy + 1]));
    expect(port).not.toBe(busy);
    expect(port).not.toBe(busy + 1);
    expect(port).toBeGreaterThan(busy + 1);
  });
});
