/**
 * Observability end to end on the real runtime (local provider, free ports): one upload is one
 * trace from the gateway through content and the bus to analytics' consumer; a failed login and
 * admin API use come out of `platformctl audit events` as ECS events without secrets; and the
 * dashboard, loaded in Debian's chromium, shows the services healthy, draws the RED charts and
 * follows a canary from one weight to the next.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/core/ports.ts';
import { sleep } from '../../src/core/sleep.ts';
import { gatewayAdminUrl } from '../../src/providers/local/edge-defaults.ts';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.ts';
import { BIN, REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';

const PASSWORD = 'correct horse battery staple 42';
const children = new Set<ChildProcess>();

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  tries = 150,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('observability on the local platform', () => {
  let ws: ReturnType<typeof workspace>;
  let gateway: string;
  let gatewayAdmin: string;
  let accessToken: string;
  const email = `obs-${Date.now()}@example.com`;

  // A stand-in OTLP/HTTP collector: records what the services export when the endpoint is set.
  let collector: Server;
  const exported: { path: string; body: string }[] = [];

  beforeAll(async () => {
    collector = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        exported.push({ path: req.url ?? '', body });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const otlp = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const [g, a, c, an] = [await freePort(), await freePort(), await freePort(), await freePort()];
    ws = workspace();
    // A copy of the runtime, so the test can build a second analytics release for the canary.
    cpSync(join(REPO_ROOT, 'runtime'), join(ws.dir, 'runtime'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(ws.dir, 'node_modules'));
    writeFileSync(
      join(ws.dir, 'platform.yaml'),
      `apiVersion: platformctl/v1
name: obs-e2e
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: runtime/gateway, port: ${g}, kind: gateway, dependsOn: [auth, content, analytics] }
  auth: { path: runtime/auth, port: ${a}, routes: [/auth, /.well-known] }
  content: { path: runtime/content, port: ${c}, routes: [/content] }
  analytics:
    path: runtime/analytics
    port: ${an}
    routes: [/analytics]
    delivery:
      steps: [{ setWeight: 20 }, { pause: 5s }, { setWeight: 60 }, { pause: 5s }, { setWeight: 100 }]
`,
    );
    const up = await runCli(['up', '--detach', '--with', 'prometheus'], {
      cwd: ws.dir,
      timeoutMs: 180_000,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp },
    });
    expect(up.exitCode, up.stderr).toBe(0);
    gateway = `http://127.0.0.1:${g}`;
    gatewayAdmin = gatewayAdminUrl(gateway);
    const json = { 'content-type': 'application/json' };
    const signup = await fetch(`${gateway}/auth/signup`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    // On failure, the problem the platform answered and what its services logged say why.
    if (signup.status >= 300) {
      const logs = await runCli(['logs', 'all', '--since', '5m'], { cwd: ws.dir });
      expect.fail(`signup answered ${signup.status} ${await signup.text()}\n${logs.stdout.slice(-8000)}`);
    }
    const login = await fetch(`${gateway}/auth/login`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    accessToken = ((await login.json()) as { accessToken: string }).accessToken;
    expect(accessToken).toBeTruthy();
  }, 240_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    if (ws) {
      await runCli(['down'], { cwd: ws.dir, timeoutMs: 60_000 });
      ws.dispose();
    }
    collector?.close();
  });

  it('one upload is one trace: gateway -> content -> bus -> analytics', async () => {
    const requestId = `obs-trace-${Date.now()}`;
    const res = await fetch(`${gateway}/content`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${accessToken}`,
        'x-request-id': requestId,
        'x-filename': 'sample.png',
      },
      body: readFileSync(join(REPO_ROOT, 'runtime', 'content', 'samples', 'sample.png')),
    });
    expect(res.status).toBe(201);
    type Span = { traceId: string; spanId: string; parentSpanId?: string; service: string; name: string };
    const trace = await until('a trace across gateway, content and analytics', async () => {
      const r = await runCli(['traces', '--request-id', requestId, '--json'], { cwd: ws.dir });
      expect(r.exitCode, r.stderr).toBe(0);
      const t = (JSON.parse(r.stdout) as { traces: { traceId: string; services: string[]; spans: Span[] }[] })
        .traces[0];
      return t && ['gateway', 'content', 'analytics'].every((s) => t.services.includes(s)) ? t : undefined;
    });
    expect(new Set(trace.spans.map((s) => s.traceId))).toEqual(new Set([trace.traceId]));
    const consume = trace.spans.find(
      (s) => s.service === 'analytics' && s.name === 'consume content.uploaded',
    );
    expect(consume).toBeDefined();
    // The consumer's span hangs under content's request span: the bus carried the context.
    const parent = trace.spans.find((s) => s.spanId === consume?.parentSpanId);
    expect(parent?.service).toBe('content');
    const gw = trace.spans.find((s) => s.service === 'gateway');
    expect(gw?.parentSpanId).toBeUndefined();

    // The same spans went to the OTLP endpoint given in the environment of `up`.
    await until('the OTLP export of the trace', () =>
      exported.some((e) => e.path === '/v1/traces' && e.body.includes(trace.traceId)) ? true : undefined,
    );

    const human = await runCli(['traces', '--trace-id', trace.traceId], { cwd: ws.dir });
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toContain(`trace ${trace.traceId}`);
    expect(human.stdout).toContain('consume content.uploaded');
    expect(human.stdout).toContain('█');
    const logs = await runCli(['logs', 'all', '--request-id', requestId, '--json'], { cwd: ws.dir });
    const services = new Set(
      logs.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { service: string }).service),
    );
    expect([...services]).toEqual(expect.arrayContaining(['gateway', 'content']));
    const byTrace = await runCli(['logs', 'all', '--trace-id', trace.traceId, '--json'], { cwd: ws.dir });
    expect(byTrace.exitCode, byTrace.stderr).toBe(0);
    const lines = byTrace.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { service: string; traceId?: string });
    expect(lines.map((l) => l.service)).toEqual(expect.arrayContaining(['gateway', 'content']));
  }, 120_000);

  it('audit events: a failed login and admin API use, ECS-shaped, no secrets', async () => {
    const bad = await fetch(`${gateway}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'wrong-password-xyz-123' }),
    });
    expect(bad.status).toBe(401);
    const adminToken = readFileSync(join(ws.dir, '.platform', 'admin-token'), 'utf8').trim();
    const add = await fetch(`${gatewayAdmin}/admin/faults`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'content', delayMs: 1 }),
    });
    expect(add.status).toBe(201);
    await fetch(`${gatewayAdmin}/admin/faults`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const denied = await fetch(`${gatewayAdmin}/admin/state`, {
      headers: { authorization: 'Bearer not-the-token' },
    });
    expect(denied.status).toBe(401);

    type Ev = {
      '@timestamp': string;
      event: { category: string[]; action: string; outcome: string };
      service: { name: string };
      user?: { id?: string; email?: string };
      source?: { ip: string };
      http?: { request: { method: string } };
      url?: { path: string };
    };
    const events = await until('the audit events', async () => {
      const r = await runCli(['audit', 'events', '--json'], { cwd: ws.dir });
      expect(r.exitCode, r.stderr).toBe(0);
      for (const secret of [PASSWORD, 'wrong-password-xyz-123', adminToken, accessToken]) {
        expect(r.stdout).not.toContain(secret);
      }
      const list = r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Ev);
      const ok =
        list.some((e) => e.event.action === 'auth.login_failed') &&
        list.filter((e) => e.event.action === 'gateway.admin_call').length >= 2 &&
        list.some((e) => e.event.action === 'gateway.admin_denied');
      return ok ? list : undefined;
    });
    const failed = events.find((e) => e.event.action === 'auth.login_failed') as Ev;
    expect(failed).toMatchObject({
      event: { category: expect.arrayContaining(['authentication']), outcome: 'failure' },
      service: { name: 'auth' },
      user: { email },
      source: { ip: expect.any(String) },
    });
    expect(Number.isNaN(Date.parse(failed['@timestamp']))).toBe(false);
    const admin = events.find(
      (e) =>
        e.event.action === 'gateway.admin_call' &&
        e.url?.path === '/admin/faults' &&
        e.http?.request.method === 'PUT',
    ) as Ev;
    expect(admin).toMatchObject({
      event: { outcome: 'success' },
      service: { name: 'gateway' },
      source: { ip: '127.0.0.1' },
      url: { path: '/admin/faults' },
    });
    expect(events.find((e) => e.event.action === 'gateway.admin_denied')?.event.outcome).toBe('failure');
    const only = await runCli(
      ['audit', 'events', '--type', 'auth.login_failed', '--since', '10m', '--json'],
      {
        cwd: ws.dir,
      },
    );
    const kinds = new Set(
      only.stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Ev).event.action),
    );
    expect([...kinds]).toEqual(['auth.login_failed']);
  }, 120_000);

  it('dashboard: 401 without the token; in chromium: healthy services, charts, a canary moving', async () => {
    const child = spawn(process.execPath, [BIN, 'dashboard', '--json'], {
      cwd: ws.dir,
      env: { ...process.env },
    });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const { url, loginUrl } = await until('the dashboard URL', () =>
      out.includes('\n')
        ? (JSON.parse(out.split('\n')[0] as string) as { url: string; loginUrl: string })
        : undefined,
    );
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(`${url}api/snapshot`)).status).toBe(401);
    expect((await fetch(`${url}?token=wrong`, { redirect: 'manual' })).status).toBe(401);
    const bearer = { authorization: `Bearer ${new URL(loginUrl).searchParams.get('token')}` };
    const snap = await fetch(`${url}api/snapshot`, { headers: bearer });
    expect(snap.status).toBe(200);
    expect(((await snap.json()) as { services: unknown[] }).services).toHaveLength(4);
    // Active chaos faults are listed with their lease's expiry.
    const adminToken = readFileSync(join(ws.dir, '.platform', 'admin-token'), 'utf8').trim();
    const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
    const leased = await fetch(`${gatewayAdmin}/admin/faults`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ service: 'content', delayMs: 1, ttlMs: 60_000 }),
    });
    expect(leased.status).toBe(201);
    const withFault = (await (await fetch(`${url}api/snapshot`, { headers: bearer })).json()) as {
      activeFaults: { description: string; expiresInMs?: number }[];
    };
    expect(withFault.activeFaults).toEqual([
      expect.objectContaining({
        source: 'gateway',
        description: '+1ms on content',
        expiresInMs: expect.any(Number),
      }),
    ]);
    await fetch(`${gatewayAdmin}/admin/faults`, { method: 'DELETE', headers: admin });
    expect((await fetch(`${url}api/snapshot`, { method: 'POST', headers: bearer })).status).toBe(405);
    const login = await fetch(loginUrl, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('set-cookie')).toMatch(/HttpOnly/);
    expect(login.headers.get('set-cookie')).not.toContain(new URL(loginUrl).searchParams.get('token'));

    // A chaos journal and a drill postmortem as `chaos run` and `drill` leave them.
    const reports = join(ws.dir, '.platform', 'reports');
    mkdirSync(join(reports, 'chaos'), { recursive: true });
    mkdirSync(join(reports, 'drills'), { recursive: true });
    const at = new Date().toISOString();
    writeFileSync(
      join(reports, 'chaos', 'kill-content.json'),
      JSON.stringify({
        title: 'kill a content replica',
        verdict: 'passed',
        reason: 'steady',
        startedAt: at,
        durationMs: 9000,
      }),
    );
    writeFileSync(
      join(reports, 'drills', 'slow-db.json'),
      JSON.stringify({
        scenario: 'slow-db',
        outcome: 'resolved',
        score: { total: 87, grade: 'B' },
        startedAt: at,
      }),
    );

    // A finished blue/green rollout of auth, as its runner leaves the state file: no steps.
    mkdirSync(join(ws.dir, '.platform', 'rollouts'), { recursive: true });
    writeFileSync(
      join(ws.dir, '.platform', 'rollouts', 'auth.json'),
      JSON.stringify({
        schema: 1,
        id: 'bg1',
        service: 'auth',
        release: '2.0.0',
        stable: '1.0.0',
        strategy: 'bluegreen',
        phase: 'Promoted',
        steps: [],
        stepIndex: 0,
        weight: 100,
        startedAt: at,
        updatedAt: at,
        finishedAt: at,
        pid: 1,
        message: 'promoted',
        analyses: [],
        events: [],
      }),
    );

    // Views for the analytics panel (trending and top content): of an uploaded item, shown by its
    // title, and of an id with no content (what chaos and load tests post), set apart.
    const uploaded = await fetch(`${gateway}/content`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'x-filename': 'obs-sunset.png' },
      body: readFileSync(join(REPO_ROOT, 'scenarios', 'data', 'sample.png')),
    });
    expect(uploaded.status).toBe(201);
    const viewed = ((await uploaded.json()) as { id: string }).id;
    const synthetic = `obs-chaos-${Date.now()}`;
    const ingest = await fetch(`${gateway}/analytics/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [viewed, synthetic].flatMap((contentId) =>
          [1, 2, 3].map((i) => ({
            id: `${contentId}-${i}`,
            type: 'view',
            contentId,
            userId: `u${i}`,
            ts: Date.now(),
          })),
        ),
      }),
    });
    expect(ingest.status).toBe(202);

    // Steady traffic through the gateway so the charts have something to draw.
    let stopped = false;
    const auth = { authorization: `Bearer ${accessToken}` };
    const load = (async () => {
      for (let i = 0; !stopped && i < 3000; i++) {
        await Promise.all([
          fetch(`${gateway}/analytics/trending?window=1h&k=5`, { headers: auth }).then((r) =>
            r.arrayBuffer(),
          ),
          fetch(`${gateway}/content`, { headers: auth }).then((r) => r.arrayBuffer()),
        ]).catch(() => {});
        await sleep(50);
      }
    })();

    const { chromium } = await import('playwright-core');
    const profile = join(tmpdir(), `obs-chromium-${process.pid}-${Date.now()}`);
    mkdirSync(profile, { recursive: true });
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1100 },
      // The page's CSP forbids eval; the test's own probes below are strings evaluated in the page.
      bypassCSP: true,
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(loginUrl);
      expect(page.url()).not.toContain('token=');
      for (const svc of ['gateway', 'auth', 'content', 'analytics']) {
        await page.waitForSelector(`#services tr[data-service="${svc}"][data-healthy="true"]`, {
          timeout: 30_000,
        });
      }
      // A line (at least two points) per chart of a service with traffic.
      await page.waitForFunction(
        `[...document.querySelectorAll('.chartcard[data-service="analytics"] svg[data-metric="rps"] path')]
          .some((p) => (p.getAttribute('d') || '').split('L').length > 2)`,
        undefined,
        { timeout: 30_000 },
      );

      // Charts have axes with units: three y values and a time axis ending now.
      const axes = '.chartcard[data-service="analytics"] svg[data-metric="rps"]';
      expect(await page.locator(`${axes} text[data-axis="y"]`).count()).toBe(3);
      expect(await page.locator(`${axes} text[data-axis="x"]`).allTextContents()).toEqual([
        '−3 min',
        '−2 min',
        '−1 min',
        'now',
      ]);
      expect(await page.locator('.chartcard[data-service="analytics"] .label').first().textContent()).toMatch(
        /traffic \(req\/s\)/,
      );
      // The gateway's own traffic: its row has numbers and it has a chart.
      await page.waitForFunction(
        `(() => { const td = document.querySelectorAll('#services tr[data-service="gateway"] td')[5]; return td && td.textContent !== '–' && Number(td.textContent) > 0; })()`,
        undefined,
        { timeout: 30_000 },
      );
      expect(await page.locator('.chartcard[data-service="gateway"]').count()).toBe(1);
      // Demo traffic is named where its requests are counted.
      const demo = await runCli(['demo', 'traffic', '--rate', '5', '--duration', '2m'], { cwd: ws.dir });
      expect(demo.exitCode, demo.stderr).toBe(0);
      await page.waitForSelector('#demo-traffic:text("demo traffic: 5 req/s to content")', {
        timeout: 30_000,
      });
      await page.waitForSelector(
        '.chartcard[data-service="content"] .badge:text("includes 5 req/s demo traffic")',
        {
          timeout: 10_000,
        },
      );
      expect(await page.locator('.chartcard[data-service="auth"] .badge').count()).toBe(0);
      // Its progress lines stay out of the services' logs (`platformctl logs all`).
      expect(existsSync(join(ws.dir, '.platform', 'demo-traffic.log'))).toBe(true);
      expect(existsSync(join(ws.dir, '.platform', 'logs', 'demo-traffic.log'))).toBe(false);
      expect((await runCli(['demo', 'traffic', '--stop'], { cwd: ws.dir })).stdout).toContain('stopped');
      // Prometheus is infrastructure, not a service.
      await page.waitForSelector('#infra tr[data-infra="prometheus"]', { timeout: 30_000 });
      expect(await page.locator('#services tr[data-service="prometheus"]').count()).toBe(0);
      expect(await page.locator('.chartcard[data-service="prometheus"]').count()).toBe(0);
      // Items by title; the synthetic id is not listed, only counted.
      await page.waitForSelector(`#analytics li[data-content-id="${viewed}"] .title:text("obs-sunset.png")`, {
        timeout: 30_000,
      });
      expect(await page.locator(`#analytics li[data-content-id="${synthetic}"]`).count()).toBe(0);
      expect(await page.locator('#analytics [data-synthetic]').count()).toBeGreaterThan(0);
      await page.waitForSelector('#chaos td:text("kill a content replica")', { timeout: 10_000 });
      await page.waitForSelector('#chaos td:text("score 87 (B)")', { timeout: 10_000 });

      // A second analytics release, rolled out in steps of 20% and 60% with pauses.
      appendFileSync(
        join(ws.dir, 'runtime', 'analytics', 'src', 'main.ts'),
        `\n(globalThis as Record<string, unknown>).releaseMark = '${Date.now()}';\n`,
      );
      const built = await runCli(['release', 'build', 'analytics', '--json'], {
        cwd: ws.dir,
        timeoutMs: 60_000,
      });
      expect(built.exitCode, built.stderr).toBe(0);
      const version = (JSON.parse(built.stdout) as { version: string }).version;
      const deploy = spawn(
        process.execPath,
        [BIN, 'deploy', 'analytics', '--release', version, '--wait', '--json'],
        {
          cwd: ws.dir,
          env: { ...process.env, CI: 'true' },
        },
      );
      children.add(deploy);
      mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      const deployed = new Promise<number>((resolve) => deploy.on('close', (code) => resolve(code ?? 1)));
      const rollout = '#canary .rollout[data-service="analytics"]';
      let deployOut = '';
      deploy.stdout.on('data', (d) => {
        deployOut += d;
      });
      deploy.stderr.on('data', (d) => {
        deployOut += d;
      });
      // The page follows the rollout: 20% first, then 60% after the pause (never by reloading).
      await page
        .waitForSelector(`${rollout}[data-phase="Progressing"][data-weight="20"]`, { timeout: 60_000 })
        .catch(async (err: Error) => {
          await page.screenshot({
            path: join(REPO_ROOT, 'test-artifacts', 'dashboard-failed.png'),
            fullPage: true,
          });
          throw new Error(`${err.message}\ndeploy output:\n${deployOut}`);
        });
      // 60% holds for the 5 s pause that follows it: at least two polls of the page.
      await page
        .waitForSelector(`${rollout}[data-weight="60"] .step.done[data-step="2"]`, { timeout: 60_000 })
        .catch(async (err: Error) => {
          await page.screenshot({
            path: join(REPO_ROOT, 'test-artifacts', 'dashboard-failed.png'),
            fullPage: true,
          });
          throw new Error(`${err.message}\ndeploy output:\n${deployOut}`);
        });
      expect(await page.locator(`${rollout} .step`).count()).toBe(5);
      expect(await page.locator(`${rollout} .weight`).textContent()).toMatch(/step [1-5]\/5/);
      // A rollout without steps (blue/green) shows its weight, never "step 1/0".
      expect(await page.locator('#canary .rollout[data-service="auth"] .weight').textContent()).toBe(
        'weight 100%',
      );
      mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'dashboard.png'), fullPage: true });
      expect(existsSync(join(REPO_ROOT, 'test-artifacts', 'dashboard.png'))).toBe(true);
      expect(await deployed).toBe(0);
    } finally {
      stopped = true;
      await load;
      await context.close();
      child.kill('SIGTERM');
    }
  }, 240_000);
});
