/**
 * Pod logs through the kubernetes provider. A control plane without kubelets has no container
 * output to serve (kwok simulates pod status, not processes), so these two tests still use the
 * stand-in API of test/helpers/kube-standin.ts, which serves `/log` as a kubelet would through the
 * API server. Everything else about the provider is proven against the real control plane in
 * provider.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import { runCli } from '../helpers/cli.ts';
import { type KubeStandin, startKubeStandin } from '../helpers/kube-standin.ts';

const NS = 'shop-staging';
let kube: KubeStandin;
let dir: string;
let kubeconfig: string;

function provider(): KubernetesProvider {
  kube.requests.length = 0;
  writeFileSync(
    join(dir, 'platform.yaml'),
    `name: shop
environments:
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, kubeContext: standin, namespace: ${NS}, registry: registry.example.com/shop }
services:
  web: { path: services/web, port: 8080, routes: [/web] }
`,
  );
  return new KubernetesProvider(loadPlatform(dir), 'staging', {
    kubeconfig,
    pollMs: 5,
    rolloutTimeoutMs: 20_000,
  });
}

beforeAll(async () => {
  kube = await startKubeStandin();
  dir = mkdtempSync(join(tmpdir(), 'kube-logs-'));
  kubeconfig = kube.kubeconfig(dir);
});
afterAll(async () => {
  await kube.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('kubernetes provider logs (stand-in: no kubelet, no container output)', () => {
  it('reads the last lines of every pod, filtered by level', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 3 });
    const entries = [];
    for await (const e of p.logs('web', { tail: 1, level: 'warn' })) entries.push(e);
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({ service: 'web', level: 'error', msg: 'boom', reqId: 'r-1' });
    const logReq = kube.requests.find((r) => r.path.endsWith('/log'));
    expect(logReq?.path).toMatch(new RegExp(`^/api/v1/namespaces/${NS}/pods/web-v1-[0-9a-f]+/log$`));
    expect(logReq?.query).toMatchObject({ tailLines: '1' });
    await p.down();
  });

  it('follows logs through the Log API', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const ac = new AbortController();
    const seen = [];
    for await (const e of p.logs('web', { follow: true, signal: ac.signal })) {
      seen.push(e.msg);
      if (seen.length === 2) ac.abort();
    }
    expect(seen).toEqual(['listening', 'boom']);
    const req = kube.requests.find((r) => r.path.endsWith('/log'));
    expect(req?.query).toMatchObject({ follow: 'true' });
    await p.down();
  });

  it('reads log levels in any case, so --level warn keeps "WARN" lines', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const defaultLogs = kube.podLogs;
    kube.podLogs = () => [
      JSON.stringify({ level: 'INFO', time: '2026-01-01T00:00:00.000Z', msg: 'quiet' }),
      JSON.stringify({ level: 'WARN', time: '2026-01-01T00:00:01.000Z', msg: 'slow upstream' }),
    ];
    try {
      const entries = [];
      for await (const e of p.logs('web', { level: 'warn' })) entries.push(e);
      expect(entries.map((e) => [e.level, e.msg, e.time])).toEqual([
        ['warn', 'slow upstream', Date.parse('2026-01-01T00:00:01.000Z')],
      ]);
    } finally {
      kube.podLogs = defaultLogs;
    }
  });

  it('logs --env reads the pods through the Log API, filtered by level', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const r = await runCli(['logs', 'web', '--env', 'staging', '--level', 'warn', '--json'], {
      cwd: dir,
      env: { KUBECONFIG: kubeconfig },
      timeoutMs: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(['boom']);
    expect(lines[0]).toMatchObject({ service: 'web', reqId: 'r-1' });
  });
});
