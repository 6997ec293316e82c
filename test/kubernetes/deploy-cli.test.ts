/**
 * The CLI against a real control plane, as a user runs it with KUBECONFIG: the first
 * `deploy --env staging` installs the service, the next is a canary whose HTTPRoute weights move
 * on the API server (watched from the test, every change seen) and is rolled back (exit 4) when the
 * metrics call it bad; `canary abort --env` finishes a rollout whose runner was killed; `chaos run
 * --env` creates Chaos Mesh objects and deletes them when interrupted (SIGINT or SIGTERM).
 */

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsReport, WindowStats } from '../../runtime/contract/gateway-admin.ts';
import { runCli, startCli, workspace } from '../helpers/cli.ts';
import {
  type ControlPlane,
  controlPlaneUnavailable,
  kubeApi,
  startControlPlane,
} from '../helpers/kube-controlplane.ts';
import { waitFor } from '../helpers/poll.ts';

const PLATFORM = `name: shop
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, namespace: shop-staging, registry: ghcr.io/acme }
services:
  web:
    path: services/web
    port: 8080
    routes: [/web]
    delivery:
      steps: [{ setWeight: 20 }, { analysis: {} }, { setWeight: 100 }]
      analysis: { count: 2, minSampleSize: 10 }
`;

const unavailable = controlPlaneUnavailable();
let cp: ControlPlane;
let api: Awaited<ReturnType<typeof kubeApi>>;
let stats: Server;
let statsUrl: string;
const ws = workspace({ 'platform.yaml': PLATFORM });

beforeAll(async () => {
  if (unavailable) return;
  cp = await startControlPlane();
  api = await kubeApi(cp.kubeconfig);
  // The gateway's /admin/stats as the delivery engine reads it: v2 fails a third of its requests.
  stats = createServer((req, res) => {
    const ok = req.headers.authorization === 'Bearer stats-token' && req.url?.startsWith('/admin/stats');
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    const m = (requests: number, errors: number): WindowStats => ({
      requests,
      errors,
      errorRate: errors / requests,
      rps: requests / 10,
      p50: 5,
      p95: 9,
      p99: 12,
      max: 20,
    });
    const report: StatsReport = {
      windowMs: 10_000,
      services: { web: { total: m(2300, 100), versions: { v1: m(2000, 0), v2: m(300, 100) } } },
    };
    res.end(JSON.stringify(report));
  });
  await new Promise<void>((r) => stats.listen(0, '127.0.0.1', r));
  statsUrl = `http://127.0.0.1:${(stats.address() as AddressInfo).port}`;
}, 1_200_000);
afterAll(async () => {
  await cp?.stop();
  if (stats) await new Promise((r) => stats.close(r));
  ws.dispose();
});

describe.skipIf(unavailable)('deploy --env on the kubernetes provider (real control plane)', () => {
  it('rolls a bad canary back through HTTPRoute weights and exits 4', async () => {
    const kubeconfig = cp.kubeconfig;
    const first = await runCli(['deploy', 'web', '--release', 'v1', '--env', 'staging', '--wait', '--json'], {
      cwd: ws.dir,
      env: { KUBECONFIG: kubeconfig },
      timeoutMs: 60_000,
    });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      type: 'result',
      release: 'v1',
      phase: 'Installed',
      traffic: { weights: { v1: 100 } },
    });

    // Every change of the HTTPRoute as the API server sends it to a watcher.
    const seen: string[] = [];
    const watch = await new api.k8s.Watch(api.kc).watch(
      '/apis/gateway.networking.k8s.io/v1/namespaces/shop-staging/httproutes',
      { fieldSelector: 'metadata.name=web' },
      (_type, obj: { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } }) => {
        const w = obj.spec.rules
          .at(-1)
          ?.backendRefs.map((b) => `${b.name}=${b.weight}`)
          .join(',');
        if (w && seen.at(-1) !== w) seen.push(w);
      },
      () => undefined,
    );

    const r = await runCli(
      [
        'deploy',
        'web',
        '--release',
        'v2',
        '--env',
        'staging',
        '--wait',
        '--json',
        '--step-interval',
        '100ms',
        '--no-early-abort',
      ],
      {
        cwd: ws.dir,
        env: {
          KUBECONFIG: kubeconfig,
          PLATFORMCTL_GATEWAY_URL: statsUrl,
          PLATFORMCTL_ADMIN_TOKEN: 'stats-token',
        },
        timeoutMs: 60_000,
      },
    );
    expect(r.exitCode, r.stderr + r.stdout).toBe(4);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(result).toMatchObject({
      type: 'result',
      service: 'web',
      release: 'v2',
      stable: 'v1',
      phase: 'RolledBack',
    });

    watch.abort();
    expect(seen).toEqual([
      'web-v1=100',
      'web-v1=100,web-v2=0',
      'web-v1=80,web-v2=20',
      'web-v1=100,web-v2=0',
      'web-v1=100',
    ]);
    const route = await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web', 'shop-staging');
    expect(route.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: 'platformctl', operation: 'Apply' }),
    );
    expect(await api.get('apps/v1', 'Deployment', 'web-v2', 'shop-staging')).toBeUndefined();
    expect(await api.get('apps/v1', 'Deployment', 'web-v1', 'shop-staging')).toBeDefined();
  });

  it('canary abort finishes a rollout whose runner was killed, in the environment it ran in', async () => {
    const run = startCli(
      ['deploy', 'web', '--release', 'v3', '--env', 'staging', '--wait', '--step-interval', '30s'],
      {
        cwd: ws.dir,
        env: {
          KUBECONFIG: cp.kubeconfig,
          PLATFORMCTL_GATEWAY_URL: statsUrl,
          PLATFORMCTL_ADMIN_TOKEN: 'stats-token',
        },
      },
    );
    await waitFor(
      'the canary at 20%',
      async () => {
        const route = await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web', 'shop-staging');
        const refs = route?.spec.rules.at(-1).backendRefs as { name: string; weight: number }[];
        return refs?.some((b) => b.name === 'web-v3' && b.weight === 20) ? true : undefined;
      },
      600,
    );
    run.child.kill('SIGKILL');
    await run.exited;
    // No --env: the rollout recorded where it runs, so the abort reaches the cluster, not the local provider.
    const r = await runCli(['canary', 'abort', 'web', '--json'], {
      cwd: ws.dir,
      env: { KUBECONFIG: cp.kubeconfig },
      timeoutMs: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'RolledBack', release: 'v3', stable: 'v1' });
    const route = await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web', 'shop-staging');
    expect(route.spec.rules.at(-1).backendRefs).toEqual([
      { group: '', kind: 'Service', name: 'web-v1', port: 80, weight: 100 },
    ]);
    expect(await api.get('apps/v1', 'Deployment', 'web-v3', 'shop-staging')).toBeUndefined();
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`chaos run --env deletes the Chaos Mesh objects it created on ${signal}`, async () => {
      writeFileSync(
        join(ws.dir, 'slow-web.yaml'),
        `title: web slows down
steadyState:
  probes:
    - name: web is ready
      healthy: {}
method:
  - action: inject-latency
    target: { service: web }
    delay: 300ms
    duration: 60s
recovery: 1s
`,
      );
      const run = startCli(['chaos', 'run', 'slow-web.yaml', '--env', 'staging'], {
        cwd: ws.dir,
        env: { KUBECONFIG: cp.kubeconfig, PLATFORMCTL_GATEWAY_URL: statsUrl },
      });
      const created = await waitFor(
        'an HTTPChaos object',
        async () => {
          const items = await api.list('chaos-mesh.org/v1alpha1', 'HTTPChaos', 'shop-staging');
          return items.length ? items : undefined;
        },
        600,
      );
      expect(created[0].spec).toMatchObject({
        delay: '300ms',
        selector: { labelSelectors: { 'app.kubernetes.io/name': 'web' } },
      });
      run.child.kill(signal);
      const code = await run.exited;
      expect(code, run.stderr()).toBe(130);
      expect(await api.list('chaos-mesh.org/v1alpha1', 'HTTPChaos', 'shop-staging')).toEqual([]);
    });
  }
});
