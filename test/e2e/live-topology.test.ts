/**
 * Changing the topology of a running platform, as the README tour does: a service scaffolded with
 * `service new` and started with `up <name>` is routed by the running gateway at once, and the
 * port it is given is free of every live instance (a scaled or canary instance included).
 */
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isPortFree } from '../../src/core/ports.ts';
import { gatewayAdminPort } from '../../src/providers/local/edge-defaults.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'local', 'fixture-service');

/** A port p where p, p+1, p+2 and p+1001 are free: the layout the port-clash bug needed. */
async function consecutiveFreePorts(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p + 1001 > 65_000) continue;
    const all = await Promise.all([p + 1, p + 2, p + 1001].map((q) => isPortFree(q)));
    if (all.every(Boolean)) return p;
  }
  throw new Error('no run of free ports found');
}

interface Status {
  services: { name: string; healthy: boolean; instances: { id: string; port: number }[] }[];
}

describe('a service added to a running platform', () => {
  let ws: ReturnType<typeof workspace>;
  let base: number;
  const cli = (args: string[]) => runCli(args, { cwd: ws.dir, timeoutMs: 120_000 });
  const status = async () => JSON.parse((await cli(['status', '--json'])).stdout) as Status;

  beforeAll(async () => {
    base = await consecutiveFreePorts();
    ws = workspace({
      'platform.yaml': `apiVersion: platformctl/v1
name: live
environments:
  dev: { cloud: aws, region: eu-west-1, extraRegions: [us-east-1], provider: local }
# Services; billing is added by the test.
services:
  gateway:
    path: builtin:gateway
    port: ${base}
    kind: gateway
    dependsOn: [api]
  api:
    path: ${FIXTURE}
    port: ${base + 1}
    routes: [/api]   # the fixture
`,
    });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(ws.dir, 'node_modules'));
    const up = await cli(['up', '--detach']);
    expect(up.exitCode, up.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await cli(['down']);
    ws.dispose();
  });

  it('scaled instances keep off the ports a new service is given', async () => {
    const scaled = await cli(['scale', 'api', '2']);
    expect(scaled.exitCode, scaled.stderr).toBe(0);
    const ports = (await status()).services.flatMap((s) => s.instances.map((i) => i.port));
    expect(ports).not.toContain(base + 2);
  });

  it('service new takes a port no live instance holds, and keeps the rest of platform.yaml as written', async () => {
    const before = readFileSync(join(ws.dir, 'platform.yaml'), 'utf8');
    const created = await cli([
      'service',
      'new',
      'billing',
      '--template',
      'node-http',
      '--owner',
      'payments',
      '--json',
    ]);
    expect(created.exitCode, created.stderr).toBe(0);
    const { port } = JSON.parse(created.stdout) as { port: number };
    const live = (await status()).services.flatMap((s) => s.instances.map((i) => i.port));
    expect(live).not.toContain(port);
    expect(port).toBe(base + 2);
    const after = readFileSync(join(ws.dir, 'platform.yaml'), 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(after.slice(before.length)).toBe(
      `  billing:\n    path: services/billing\n    port: ${port}\n    routes: [/billing]\n    owner: payments\n`,
    );
  });

  it('up billing starts it beside the running platform and the gateway routes /billing at once', async () => {
    const up = await cli(['up', 'billing']);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(up.stderr).toContain('started billing');
    expect((await status()).services.find((s) => s.name === 'billing')?.healthy).toBe(true);

    const token = readFileSync(join(ws.dir, '.platform', 'admin-token'), 'utf8').trim();
    const state =
      (await // The admin API answers on the gateway's admin listener only (ADMIN_PORT, set by up).
      (
        await fetch(`http://127.0.0.1:${gatewayAdminPort(base)}/admin/state`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()) as {
        routes: { prefix: string; service: string }[];
        services: Record<string, { instances: unknown[] }>;
      };
    expect(state.routes).toContainEqual(expect.objectContaining({ prefix: '/billing', service: 'billing' }));
    expect(state.services.billing?.instances).toHaveLength(1);

    // Routed (no auth service here, so a token-protected route answers 503, not 404 NO_ROUTE).
    const res = await fetch(`http://127.0.0.1:${base}/billing/items`);
    const body = (await res.json()) as { code?: string };
    expect(body.code).not.toBe('NO_ROUTE');
    expect(res.status).not.toBe(404);
  });
});
