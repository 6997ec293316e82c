/**
 * The whole platform on the local provider, through bin/platformctl and the gateway URL, exactly
 * as a newcomer runs it: up --detach, the user flow of the runtime (signup → login → upload →
 * 200 px webp variant → view events → stats), kill -9 of instances without losing acknowledged
 * data, an idempotent second up, and down leaving nothing behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortFree } from '../../src/core/ports.ts';
import { gatewayAdminUrl } from '../../src/providers/local/edge-defaults.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import { alive, waitFor } from '../helpers/poll.ts';
import { freePorts, runtimePlatformYaml } from '../helpers/runtime-platform.ts';

const SERVICES = ['gateway', 'auth', 'content', 'analytics'];
const present = SERVICES.every((s) => existsSync(join(REPO_ROOT, 'runtime', s, 'src', 'main.ts')));

interface Instance {
  id: string;
  service: string;
  pid?: number;
  state: string;
  restarts: number;
}
interface Status {
  running: boolean;
  gatewayUrl: string;
  services: { name: string; healthy: boolean; instances: Instance[] }[];
}

describe.skipIf(!present)('the runtime platform on the local provider', () => {
  let ws: ReturnType<typeof workspace>;
  let ports: number[];
  let gw: string;
  let token: string;
  let contentId: string;
  const viewIds = Array.from({ length: 12 }, (_, i) => `e2e-view-${i}-${Date.now()}`);

  const status = async (): Promise<Status> => {
    const r = await runCli(['status', '--json'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Status;
  };
  const instances = async () => (await status()).services.flatMap((s) => s.instances);
  const authed = () => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    ports = await freePorts(SERVICES.length);
    ws = workspace({ 'platform.yaml': runtimePlatformYaml('e2e', ports) });
  });

  afterAll(async () => {
    await runCli(['down'], { cwd: ws.dir });
    ws.dispose();
  });

  it('up --detach brings up four healthy services', async () => {
    const r = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const st = await status();
    expect(st.running).toBe(true);
    expect(st.services.map((s) => [s.name, s.healthy]).sort()).toEqual(SERVICES.map((s) => [s, true]).sort());
    gw = st.gatewayUrl;
    // The metrics and the admin API are not on the public port, only on the admin listener.
    expect((await fetch(`${gw}/metrics`)).status).toBe(404);
    expect((await fetch(`${gw}/admin/state`)).status).toBe(404);
    const metrics = await fetch(`${gatewayAdminUrl(gw)}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('gateway_requests_total');
  });

  it('runs the user flow through the gateway', async () => {
    const body = JSON.stringify({ email: 'e2e@example.com', password: 'e2e-password-1234' });
    const json = { 'content-type': 'application/json' };
    expect((await fetch(`${gw}/auth/signup`, { method: 'POST', headers: json, body })).status).toBe(201);
    const login = await fetch(`${gw}/auth/login`, { method: 'POST', headers: json, body });
    expect(login.status).toBe(200);
    token = ((await login.json()) as { accessToken: string }).accessToken;

    const { default: sharp } = await import('sharp');
    const image = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const up = await fetch(`${gw}/content`, {
      method: 'POST',
      headers: { ...authed(), 'x-filename': 'e2e.png' },
      body: new Uint8Array(image),
    });
    expect(up.status).toBe(201);
    contentId = ((await up.json()) as { id: string }).id;

    const variant = await fetch(`${gw}/content/${contentId}/variant?w=200&format=webp`);
    expect(variant.status).toBe(200);
    expect(variant.headers.get('content-type')).toContain('image/webp');
    expect((await sharp(Buffer.from(await variant.arrayBuffer())).metadata()).width).toBe(200);

    const events = viewIds.map((id) => ({ id, type: 'view', contentId, ts: new Date().toISOString() }));
    const ingest = await fetch(`${gw}/analytics/events`, {
      method: 'POST',
      headers: { ...authed(), ...json },
      body: JSON.stringify({ events }),
    });
    expect(ingest.status).toBe(202);
    const views = await waitFor(
      'the views to be counted',
      async () => {
        const res = await fetch(`${gw}/analytics/content/${contentId}/stats`, { headers: authed() });
        const s = (await res.json()) as { views: number };
        return s.views >= viewIds.length ? s.views : undefined;
      },
      150,
    );
    expect(views).toBeGreaterThanOrEqual(viewIds.length);
  });

  it('demo seeds a user, the sample media and views, and says what to try next', async () => {
    const r = await runCli(['demo', '--views', '20', '--json'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const demo = JSON.parse(r.stdout) as {
      uploads: { file: string; id: string }[];
      views: number;
      tryNext: string[];
    };
    expect(demo.uploads.map((u) => u.file)).toEqual(expect.arrayContaining(['sample.jpg', 'sample.png']));
    expect(demo.views).toBe(20);
    expect(demo.tryNext.join('\n')).toContain(
      `${gw}/content/${demo.uploads[0]?.id}/variant?w=200&format=webp`,
    );
  });

  it('kill -9 of content and analytics: back and serving, nothing acknowledged lost', async () => {
    const before = await instances();
    for (const id of ['content-1', 'analytics-1']) {
      process.kill(before.find((i) => i.id === id)?.pid as number, 'SIGKILL');
    }
    const meta = await waitFor(
      'content to serve again',
      async () => {
        const res = await fetch(`${gw}/content/${contentId}`, { headers: authed() });
        return res.status === 200 ? ((await res.json()) as { id: string }) : undefined;
      },
      150,
    );
    expect(meta.id).toBe(contentId);
    const views = await waitFor(
      'analytics to serve again',
      async () => {
        const res = await fetch(`${gw}/analytics/content/${contentId}/stats`, { headers: authed() });
        return res.status === 200 ? ((await res.json()) as { views: number }).views : undefined;
      },
      150,
    );
    expect(views).toBeGreaterThanOrEqual(viewIds.length);
    // Replaying the same events is idempotent: nothing is counted twice.
    const replay = await fetch(`${gw}/analytics/events`, {
      method: 'POST',
      headers: { ...authed(), 'content-type': 'application/json' },
      body: JSON.stringify({
        events: viewIds.map((id) => ({ id, type: 'view', contentId, ts: new Date().toISOString() })),
      }),
    });
    expect(replay.status).toBe(202);
    const recount = await fetch(`${gw}/analytics/content/${contentId}/stats`, { headers: authed() });
    expect(((await recount.json()) as { views: number }).views).toBe(views);
    const after = await instances();
    for (const id of ['content-1', 'analytics-1']) {
      const i = after.find((x) => x.id === id) as Instance;
      expect(i.restarts).toBe(1);
      expect(i.pid).not.toBe(before.find((x) => x.id === id)?.pid);
    }
  });

  it('no service logged a crash of its own threads (e.g. the analytics projector in a release bundle)', () => {
    const log = readFileSync(join(ws.dir, '.platform', 'logs', 'analytics-1.log'), 'utf8');
    expect(log).not.toMatch(/projector thread exited|failed to start/);
  });

  it('a second up is idempotent', async () => {
    const pids = (await instances()).map((i) => i.pid);
    const r = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect((await instances()).map((i) => i.pid)).toEqual(pids);
  });

  it('down leaves no process and no port behind', async () => {
    const pids = (await instances()).map((i) => i.pid);
    const r = await runCli(['down'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const port of ports) expect(await isPortFree(port)).toBe(true);
  });
});
