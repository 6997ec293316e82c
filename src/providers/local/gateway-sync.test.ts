import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/poll.ts';
import { GatewaySync, type Topology } from './gateway-sync.ts';
import type { Managed } from './instance-process.ts';
import type { ServicePlan } from './service-plan.ts';

let admin: Server | undefined;
let dir: string | undefined;
afterEach(() => {
  admin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  admin = undefined;
  dir = undefined;
});

/** A gateway admin API that refuses the first `refuse` instance pushes, then takes them. */
async function gatewayAdmin(
  refuse: number,
): Promise<{ publicUrl: string; taken: string[]; refused: () => number }> {
  const taken: string[] = [];
  let refused = 0;
  admin = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'PUT' && req.url?.endsWith('/instances') && refused < refuse) {
        refused++;
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
        return res.end('{"status":503,"code":"BUSY","detail":"busy"}');
      }
      taken.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => admin?.listen(0, '127.0.0.1', r));
  // The admin API listens 10000 above the gateway's public port (edge-defaults.ts gatewayAdminPort).
  const port = (admin.address() as AddressInfo).port;
  return { publicUrl: `http://127.0.0.1:${port - 10_000}`, taken, refused: () => refused };
}

function instance(service: string, kind: string, url: string): Managed {
  return {
    rec: { id: `${service}-1`, service, url, version: 'v1', state: 'ready' },
    spec: { name: service, kind },
    stopping: false,
  } as unknown as Managed;
}

describe('GatewaySync', () => {
  it('pushes again what a busy gateway refused, without waiting for another change', async () => {
    const gw = await gatewayAdmin(1);
    dir = mkdtempSync(join(tmpdir(), 'gateway-sync-'));
    const plans = [
      { name: 'gateway', kind: 'gateway', routes: [] },
      { name: 'auth', kind: 'http', routes: ['/auth'], maxBodyBytes: 0 },
    ] as unknown as ServicePlan[];
    const instances = [
      instance('gateway', 'gateway', gw.publicUrl),
      instance('auth', 'http', 'http://127.0.0.1:1'),
    ];
    const topology: Topology = {
      plans: () => plans,
      instances: () => instances,
      service: () => undefined,
      closed: () => false,
    };
    const sync = new GatewaySync(join(dir, 'gateway.json'), 'token', topology);
    await sync.sync();
    expect(gw.refused()).toBe(1);
    await until(
      () => gw.taken.some((t) => t === 'PUT /admin/services/auth/instances'),
      'the refused push again',
      50,
    );
  });
});
