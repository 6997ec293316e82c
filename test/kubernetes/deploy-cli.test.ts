/**
 * `platformctl deploy --env staging --wait` against a Kubernetes environment, as a user runs it:
 * the CLI finds the cluster through KUBECONFIG, the canary's HTTPRoute weights move, and a release
 * the metrics call bad is rolled back (exit 4) with its Deployment deleted.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsReport, WindowStats } from '../../runtime/contract/gateway-admin.ts';
import { loadPlatform } from '../../src/core/config/load.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import { runCli, workspace } from '../helpers/cli.ts';
import { type KubeStandin, startKubeStandin } from '../helpers/kube-standin.ts';

const PLATFORM = `name: shop
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, kubeContext: standin, namespace: shop-staging, registry: ghcr.io/acme }
services:
  web:
    path: services/web
    port: 8080
    routes: [/web]
    delivery:
      steps: [{ setWeight: 20 }, { analysis: {} }, { setWeight: 100 }]
      analysis: { count: 2, minSampleSize: 10 }
`;

let kube: KubeStandin;
let stats: Server;
let statsUrl: string;
const ws = workspace({ 'platform.yaml': PLATFORM });

beforeAll(async () => {
  kube = await startKubeStandin();
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
});
afterAll(async () => {
  await kube.close();
  await new Promise((r) => stats.close(r));
  ws.dispose();
});

describe('deploy --env on the kubernetes provider', () => {
  it('rolls a bad canary back through HTTPRoute weights and exits 4', async () => {
    const kubeconfig = kube.kubeconfig(ws.dir);
    const stable = new KubernetesProvider(loadPlatform(ws.dir), 'staging', { kubeconfig, pollMs: 5 });
    await stable.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    kube.requests.length = 0;

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

    const routes = kube.requests
      .filter(
        (q) =>
          q.method === 'PATCH' &&
          q.path === '/apis/gateway.networking.k8s.io/v1/namespaces/shop-staging/httproutes/web',
      )
      .map((q) => {
        expect(q.contentType).toBe('application/apply-patch+yaml');
        expect(q.query).toEqual({ fieldManager: 'platformctl', force: 'true' });
        const rules = (q.body as { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } })
          .spec.rules;
        return rules
          .at(-1)
          ?.backendRefs.map((b) => `${b.name}=${b.weight}`)
          .join(',');
      });
    expect(routes).toEqual([
      'web-v1=100,web-v2=0',
      'web-v1=80,web-v2=20',
      'web-v1=100,web-v2=0',
      'web-v1=100',
    ]);
    expect(kube.get('deployments', 'web-v2')).toBeUndefined();
    expect(kube.get('deployments', 'web-v1')).toBeDefined();
  });
});
