import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, echoUpstream, type TestServer } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');

/** One request on its own connection, so that the kernel may hand it to any worker. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

function adminCall(base: string, method: string, path: string, body?: unknown) {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('clustered gateway (GATEWAY_WORKERS=2)', () => {
  let a: TestServer;
  let b: TestServer;
  let child: ChildProcess;
  let base: string;
  let dir: string;
  let exited: Promise<number | null>;

  beforeAll(async () => {
    [a, b] = await Promise.all([echoUpstream('a'), echoUpstream('b')]);
    dir = mkdtempSync(join(tmpdir(), 'gw-cluster-'));
    const config = join(dir, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: a.url, version: 'v1' }] } },
      }),
    );
    child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        PORT: '0',
        GATEWAY_WORKERS: '2',
        GATEWAY_CONFIG: config,
        ADMIN_TOKEN,
        ACCESS_LOG: 'false',
        DATA_DIR: join(dir, 'data'),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // Both workers log `listening`; they share one port.
    const listening = new Set<number>();
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      child.once('exit', () => reject(new Error('gateway exited')));
      child.stdout?.on('data', (d: Buffer) => {
        buffer += d.toString('utf8');
        for (const line of buffer.split('\n')) {
          if (line.includes('"listening"')) listening.add((JSON.parse(line) as { port: number }).port);
        }
        if (listening.size > 0 && (buffer.match(/"listening"/g) ?? []).length >= 2) resolve();
      });
    });
    expect(listening.size).toBe(1);
    base = `http://127.0.0.1:${[...listening][0]}`;
  });

  afterAll(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([a.close(), b.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies admin changes on every worker, merges stats and metrics, and stops cleanly', async () => {
    const state = (await (await adminCall(base, 'GET', '/admin/state')).json()) as { workers: number };
    expect(state.workers).toBe(2);

    expect(
      (
        await adminCall(base, 'PUT', '/admin/services/api/instances', {
          instances: [{ id: 'b', url: b.url, version: 'v2' }],
        })
      ).status,
    ).toBe(200);
    for (let i = 0; i < 20; i++) expect(JSON.parse((await get(`${base}/api/x`)).body).name).toBe('b');

    const fault = await adminCall(base, 'PUT', '/admin/faults', {
      service: 'api',
      abortPct: 100,
      abortStatus: 503,
    });
    const { id } = (await fault.json()) as { id: string };
    for (let i = 0; i < 10; i++) expect((await get(`${base}/api/x`)).status).toBe(503);
    expect((await adminCall(base, 'DELETE', `/admin/faults/${id}`)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await get(`${base}/api/x`)).status).toBe(200);

    const stats = (await (await adminCall(base, 'GET', '/admin/stats?window=1m')).json()) as {
      services: { api: { versions: Record<string, { requests: number; errors: number }> } };
    };
    expect(stats.services.api.versions.v2).toMatchObject({ requests: 40, errors: 10 });

    const metrics = await (await fetch(`${base}/metrics`)).text();
    const served = metrics
      .split('\n')
      .filter(
        (l) =>
          l.startsWith('gateway_requests_total{') && l.includes('service="api"') && l.includes('code="200"'),
      )
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
    expect(served).toBe(30);

    // A worker killed outright is replaced, and the replacement routes as the admin API said.
    const workers = childrenOf(child.pid!);
    expect(workers.length).toBe(2);
    process.kill(workers[0]!, 'SIGKILL');
    for (let i = 0; i < 100 && !childrenOf(child.pid!).some((p) => !workers.includes(p)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < 20; i++) expect(JSON.parse((await get(`${base}/api/x`)).body).name).toBe('b');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

describe('gateway process (one worker)', () => {
  it('exports the process metrics beside its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-single-'));
    const config = join(dir, 'gateway.json');
    writeFileSync(config, JSON.stringify({ routes: [], services: {} }));
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, PORT: '0', GATEWAY_CONFIG: config, ADMIN_TOKEN, DATA_DIR: join(dir, 'data') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let buffer = '';
        child.once('exit', () => reject(new Error('gateway exited')));
        child.stdout?.on('data', (d: Buffer) => {
          buffer += d.toString('utf8');
          const line = buffer.split('\n').find((l) => l.includes('"listening"'));
          if (line) resolve((JSON.parse(line) as { port: number }).port);
        });
      });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('gateway_requests_total');
      expect(metrics).toContain('process_cpu_user_seconds_total');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
