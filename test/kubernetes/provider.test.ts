import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { ExitCode } from '../../src/core/errors.ts';
import type { MetricSource } from '../../src/delivery/metrics.ts';
import { startRollout } from '../../src/delivery/rollout.ts';
import { compileConditions, resolveStrategy } from '../../src/delivery/strategy.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import { ProviderMetricSource } from '../../src/providers/metrics/provider-source.ts';
import { openProvider } from '../../src/providers/provider.ts';
import { type KubeStandin, startKubeStandin } from '../helpers/kube-standin.ts';

const NS = 'shop-staging';
let kube: KubeStandin;
let dir: string;
let kubeconfig: string;

function platformYaml(mesh = 'gateway-api'): string {
  return `name: shop
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging:
    cloud: aws
    region: eu-west-1
    provider: kubernetes
    kubeContext: standin
    namespace: ${NS}
    registry: registry.example.com/shop
    mesh: ${mesh}
services:
  web:
    path: services/web
    port: 8080
    routes: [/web]
    env: { LOG_LEVEL: info }
    delivery:
      steps: [{ setWeight: 10 }, { analysis: {} }, { setWeight: 50 }, { analysis: {} }, { setWeight: 100 }]
      analysis: { interval: 30ms, count: 2, minSampleSize: 10, failureLimit: 0 }
  edge: { path: builtin:gateway, port: 8000, kind: gateway }
  jobs: { path: services/jobs, port: 8090, kind: worker }
`;
}

function provider(mesh?: string): KubernetesProvider {
  writeFileSync(join(dir, 'platform.yaml'), platformYaml(mesh));
  return new KubernetesProvider(loadPlatform(dir), 'staging', {
    kubeconfig,
    pollMs: 5,
    rolloutTimeoutMs: 20_000,
  });
}

const applies = (kind: string) =>
  kube.requests.filter(
    (r) =>
      r.method === 'PATCH' &&
      r.contentType === 'application/apply-patch+yaml' &&
      (r.body as { kind: string }).kind === kind,
  );

beforeAll(async () => {
  kube = await startKubeStandin();
  dir = mkdtempSync(join(tmpdir(), 'kube-provider-'));
  kubeconfig = kube.kubeconfig(dir);
});
afterAll(async () => {
  await kube.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  kube.podBehaviour = () => 'ready';
  // Start every test from an empty namespace.
  const p = provider();
  await p.down();
  kube.requests.length = 0;
});

describe('kubernetes provider', () => {
  it('is what openProvider returns for a kubernetes environment', async () => {
    writeFileSync(join(dir, 'platform.yaml'), platformYaml());
    const p = await openProvider(loadPlatform(dir), 'staging');
    expect(p).toBeInstanceOf(KubernetesProvider);
    expect(p.name).toBe('kubernetes');
  });

  it('deploys with server-side apply and waits for the rollout', async () => {
    const p = provider();
    const st = await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 2 });
    expect(st.versions).toEqual(['v1']);
    expect(st.instances).toHaveLength(2);
    expect(st.healthy).toBe(true);
    expect(st.traffic).toEqual({ weights: { v1: 100 } });

    const dep = applies('Deployment')[0];
    expect(dep?.path).toBe(`/apis/apps/v1/namespaces/${NS}/deployments/web-v1`);
    expect(dep?.query).toEqual({ fieldManager: 'platformctl', force: 'true' });
    const body = dep?.body as {
      metadata: { labels: Record<string, string> };
      spec: {
        replicas: number;
        template: { spec: { containers: { image: string; env: { name: string; value?: string }[] }[] } };
      };
    };
    expect(body.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'web',
      'platformctl.dev/version': 'v1',
    });
    expect(body.spec.replicas).toBe(2);
    expect(body.spec.template.spec.containers[0]?.image).toBe('registry.example.com/shop/web:v1');
    expect(body.spec.template.spec.containers[0]?.env).toContainEqual({ name: 'LOG_LEVEL', value: 'info' });
    expect(applies('Service').map((r) => r.path)).toEqual([
      `/api/v1/namespaces/${NS}/services/web`,
      `/api/v1/namespaces/${NS}/services/web-v1`,
    ]);
    const route = applies('HTTPRoute')[0];
    expect(route?.path).toBe(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/web`);
    expect(((route?.body ?? {}) as { spec: unknown }).spec).toEqual({
      parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ name: 'web-v1', port: 80, weight: 100 }],
        },
      ],
    });
    // The rollout was polled: the deployment was read until ready.
    expect(
      kube.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/deployments/web-v1')).length,
    ).toBeGreaterThan(1);
    expect(kube.requests.every((r) => !r.path.includes('/namespaces/default/'))).toBe(true);
  });

  it('fails fast on ImagePullBackOff with the pod message and leaves nothing behind', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    kube.podBehaviour = (image) =>
      image.endsWith(':v9')
        ? { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` }
        : 'ready';
    const slow = new KubernetesProvider(loadPlatform(dir), 'staging', {
      kubeconfig,
      pollMs: 5,
      rolloutTimeoutMs: 600_000,
    });
    const err = await slow.deploy('web', { service: 'web', version: 'v9' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ROLLOUT_IMAGE_PULL' });
    expect((err as Error).message).toContain('ImagePullBackOff');
    expect((err as Error).message).toContain('Back-off pulling image "registry.example.com/shop/web:v9"');
    // Polled a handful of times, not until the 10-minute timeout.
    expect(
      kube.requests.filter((r) => r.path.endsWith('/deployments/web-v9') && r.method === 'GET').length,
    ).toBeLessThan(10);
    expect(
      kube.requests.some(
        (r) => r.method === 'DELETE' && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/web-v9`,
      ),
    ).toBe(true);
    expect(kube.get('deployments', 'web-v9')).toBeUndefined();
    expect(kube.get('httproutes', 'web')?.metadata.annotations?.['platformctl.dev/weights']).toBe(
      '{"v1":100}',
    );
  });

  it('starts a canary dark even when no split was recorded for the stable version', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const del = await fetch(`${kube.url}/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/web`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${kube.token}` },
    });
    expect(del.status).toBe(200);
    await p.deploy('web', { service: 'web', version: 'v2' }, { replicas: 1 });
    expect(kube.get('httproutes', 'web')?.metadata.annotations?.['platformctl.dev/weights']).toBe(
      '{"v1":100,"v2":0}',
    );
  });

  it('scales through the scale subresource, kills pods and reads logs', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const scaled = await p.scale('web', 3);
    const patch = kube.requests.find((r) => r.path.endsWith('/deployments/web-v1/scale'));
    expect(patch).toMatchObject({
      method: 'PATCH',
      path: `/apis/apps/v1/namespaces/${NS}/deployments/web-v1/scale`,
      contentType: 'application/merge-patch+json',
      body: { spec: { replicas: 3 } },
      query: { fieldManager: 'platformctl' },
    });
    expect(scaled.desiredReplicas).toBe(3);
    expect(scaled.instances).toHaveLength(3);

    const victim = scaled.instances[0]?.id as string;
    await p.kill(victim);
    expect(kube.requests.find((r) => r.method === 'DELETE' && r.path.includes('/pods/'))).toMatchObject({
      path: `/api/v1/namespaces/${NS}/pods/${victim}`,
      query: { gracePeriodSeconds: '0' },
    });
    const after = await p.status();
    const ids = after.services[0]?.instances.map((i) => i.id) ?? [];
    expect(ids).not.toContain(victim);
    expect(ids).toHaveLength(3); // the Deployment replaced it
    await expect(p.kill('no-such-pod')).rejects.toMatchObject({ code: 'UNKNOWN_INSTANCE' });

    const entries = [];
    for await (const e of p.logs('web', { tail: 1, level: 'warn' })) entries.push(e);
    expect(entries).toHaveLength(3);
    expect(entries[0]).toMatchObject({ service: 'web', level: 'error', msg: 'boom', reqId: 'r-1' });
    const logReq = kube.requests.find((r) => r.path.endsWith('/log'));
    expect(logReq?.path).toMatch(new RegExp(`^/api/v1/namespaces/${NS}/pods/web-v1-[0-9a-f]+/log$`));
    expect(logReq?.query).toMatchObject({ tailLines: '1' });
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
  });

  it('injects and clears faults as Chaos Mesh objects', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const id = await p.injectFault({ service: 'web', version: 'v1', route: '/web/slow', delayMs: 300 });
    const create = kube.requests.find((r) => r.method === 'POST');
    expect(create?.path).toBe(`/apis/chaos-mesh.org/v1alpha1/namespaces/${NS}/httpchaos`);
    expect(((create?.body ?? {}) as { spec: unknown }).spec).toEqual({
      mode: 'all',
      selector: {
        namespaces: [NS],
        labelSelectors: { 'app.kubernetes.io/name': 'web', 'platformctl.dev/version': 'v1' },
      },
      target: 'Request',
      port: 8080,
      path: '/web/slow*',
      delay: '300ms',
    });
    const handle = await p.partition('db', { service: 'web' });
    expect(kube.objects('networkchaos')).toHaveLength(1);
    await handle.heal();
    expect(kube.objects('networkchaos')).toHaveLength(0);
    await p.clearFaults();
    expect(kube.objects('httpchaos')).toHaveLength(0);
    expect(kube.requests.some((r) => r.method === 'DELETE' && r.path.endsWith(`/httpchaos/${id}`))).toBe(
      true,
    );
  });

  it('reports an unknown context, bad credentials and an unreachable API clearly', async () => {
    writeFileSync(
      join(dir, 'platform.yaml'),
      platformYaml().replace('kubeContext: standin', 'kubeContext: nope'),
    );
    const noContext = new KubernetesProvider(loadPlatform(dir), 'staging', { kubeconfig });
    await expect(noContext.status()).rejects.toMatchObject({ code: 'KUBE_CONTEXT_UNKNOWN', exitCode: 2 });

    writeFileSync(join(dir, 'platform.yaml'), platformYaml());
    const badToken = join(dir, 'bad-token.yaml');
    writeFileSync(badToken, readFileSync(kubeconfig, 'utf8').replace(kube.token, 'wrong'));
    const denied = new KubernetesProvider(loadPlatform(dir), 'staging', { kubeconfig: badToken });
    const err = await denied.status().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KUBE_API_ERROR', details: { status: 401 } });
    expect((err as Error).message).toBe('the Kubernetes API refused to list deployments: 401 Unauthorized');

    const closed = join(dir, 'closed.yaml');
    writeFileSync(
      closed,
      readFileSync(kubeconfig, 'utf8').replace(/server: .*/, 'server: http://127.0.0.1:1'),
    );
    const down = new KubernetesProvider(loadPlatform(dir), 'staging', { kubeconfig: closed });
    await expect(down.status()).rejects.toMatchObject({ code: 'KUBE_UNREACHABLE' });
  });

  it('metrics() asks the configured Prometheus for the version (PromQL over /api/v1/query)', async () => {
    const queries: string[] = [];
    const prom = createServer((req, res) => {
      const q = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
      queries.push(q);
      const value = q.includes('code=~')
        ? '12'
        : q.includes('increase')
          ? '400'
          : q.includes('0.99')
            ? '500'
            : 'NaN';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          status: 'success',
          data: { resultType: 'vector', result: [{ metric: {}, value: [1, value] }] },
        }),
      );
    });
    await new Promise<void>((r) => prom.listen(0, '127.0.0.1', r));
    try {
      writeFileSync(
        join(dir, 'platform.yaml'),
        platformYaml().replace(
          'mesh: gateway-api',
          `mesh: gateway-api\n    prometheus: http://127.0.0.1:${(prom.address() as AddressInfo).port}`,
        ),
      );
      const p = new KubernetesProvider(loadPlatform(dir), 'staging', { kubeconfig });
      const m = await new ProviderMetricSource(p).query('web', 'v2', 30_000);
      expect(m).toMatchObject({ requests: 400, errors: 12, errorRate: 0.03, p99: 500 });
      expect(m.p50).toBeUndefined(); // no data stays no data
      expect(queries.every((q) => q.includes('service="web",version="v2"') && q.includes('[30s]'))).toBe(
        true,
      );
    } finally {
      await new Promise((r) => prom.close(r));
    }
  });

  it('without Prometheus, metrics() says what to configure', async () => {
    await expect(provider().metrics('web', 'v1', 10_000)).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
  });

  it('a canary drives HTTPRoute weights step by step and rolls back a bad release', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    kube.requests.length = 0;
    const { strategy, origins } = resolveStrategy(p.platform.config, 'web');
    const bad: MetricSource = {
      name: 'fake',
      query: async (_s, version) =>
        version === 'v2'
          ? { requests: 400, errors: 120, errorRate: 0.3, p50: 10, p95: 20, p99: 30 }
          : { requests: 4000, errors: 0, errorRate: 0, p50: 10, p95: 20, p99: 30 },
    };
    const result = await startRollout({
      root: dir,
      service: 'web',
      release: 'v2',
      strategy,
      conditions: compileConditions(undefined, origins),
      provider: p,
      source: bad,
      replicas: 1,
      tickMs: 5,
      earlyAbort: false,
    });
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.phase).toBe('RolledBack');
    const weights = applies('HTTPRoute').map((r) =>
      (r.body as { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } }).spec.rules
        .at(-1)
        ?.backendRefs.map((b) => `${b.name}=${b.weight}`)
        .join(','),
    );
    expect(weights).toEqual([
      'web-v1=100,web-v2=0', // deployed dark
      'web-v1=90,web-v2=10', // step 1
      'web-v1=100,web-v2=0', // rollback
      'web-v1=100', // v2 retired
    ]);
    expect(
      kube.requests.some(
        (r) => r.method === 'DELETE' && r.path === `/apis/apps/v1/namespaces/${NS}/deployments/web-v2`,
      ),
    ).toBe(true);
    expect(kube.get('deployments', 'web-v2')).toBeUndefined();
    expect((await p.status()).services[0]?.versions).toEqual(['v1']);
  });

  it('a good canary is promoted: weights 10 -> 50 -> 100 and the old Deployment is deleted', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    kube.requests.length = 0;
    const { strategy, origins } = resolveStrategy(p.platform.config, 'web');
    const good: MetricSource = {
      name: 'fake',
      query: async () => ({ requests: 1000, errors: 0, errorRate: 0, p50: 10, p95: 20, p99: 30 }),
    };
    const result = await startRollout({
      root: dir,
      service: 'web',
      release: 'v2',
      strategy,
      conditions: compileConditions(undefined, origins),
      provider: p,
      source: good,
      replicas: 1,
      tickMs: 5,
      earlyAbort: false,
    });
    expect(result.exitCode).toBe(ExitCode.ok);
    const weights = applies('HTTPRoute').map((r) =>
      (
        (r.body ?? {}) as { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } }
      ).spec.rules
        .at(-1)
        ?.backendRefs.filter((b) => b.weight > 0)
        .map((b) => `${b.name}=${b.weight}`)
        .join(','),
    );
    expect(weights.slice(0, 4)).toEqual([
      'web-v1=100',
      'web-v1=90,web-v2=10',
      'web-v1=50,web-v2=50',
      'web-v2=100',
    ]);
    expect(kube.get('deployments', 'web-v1')).toBeUndefined();
    expect((await p.status()).services[0]).toMatchObject({
      versions: ['v2'],
      traffic: { weights: { v2: 100 } },
    });
  });

  it('runs a worker without a Service or a route; traffic to it is refused', async () => {
    const p = provider();
    const st = await p.deploy('jobs', { service: 'jobs', version: 'v1' }, { replicas: 1 });
    expect(st).toMatchObject({ kind: 'worker', versions: ['v1'], healthy: true });
    expect(st.traffic).toBeUndefined();
    expect(applies('Deployment').map((r) => r.path)).toEqual([
      `/apis/apps/v1/namespaces/${NS}/deployments/jobs-v1`,
    ]);
    expect(applies('Service')).toEqual([]);
    expect(applies('HTTPRoute')).toEqual([]);
    await expect(p.setTraffic('jobs', { weights: { v1: 100 } })).rejects.toMatchObject({ exitCode: 2 });
  });

  it('exposes only the gateway service at the cluster Gateway', async () => {
    const p = provider();
    await p.deploy('edge', { service: 'edge', version: 'v1' }, { replicas: 1 });
    const route = applies('HTTPRoute')[0];
    expect(route?.path).toBe(`/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes/edge`);
    expect(((route?.body ?? {}) as { spec: unknown }).spec).toMatchObject({
      parentRefs: [{ name: 'shop-gateway' }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ name: 'edge-v1', weight: 100 }],
        },
      ],
    });
  });

  it('with Istio: a VirtualService with retries and timeouts, plus STRICT mTLS', async () => {
    const p = provider('istio');
    await p.up({ services: ['web'] });
    const pa = applies('PeerAuthentication')[0];
    expect(pa?.path).toBe(`/apis/security.istio.io/v1/namespaces/${NS}/peerauthentications/default`);
    expect(((pa?.body ?? {}) as { spec: unknown }).spec).toEqual({ mtls: { mode: 'STRICT' } });
    await p.deploy('web', { service: 'web', version: 'v2' }, { replicas: 1, initialWeight: 0 });
    await p.setTraffic('web', { weights: { latest: 75, v2: 25 }, header: 'x-canary: always' });
    const vs = applies('VirtualService').at(-1);
    expect(vs?.path).toBe(`/apis/networking.istio.io/v1/namespaces/${NS}/virtualservices/web`);
    const http = ((vs?.body ?? {}) as { spec: { http: Record<string, unknown>[] } }).spec.http;
    expect(http[0]).toMatchObject({
      name: 'preview',
      match: [{ uri: { prefix: '/' }, headers: { 'x-canary': { exact: 'always' } } }],
      route: [{ destination: { host: `web-v2.${NS}.svc.cluster.local` }, weight: 100 }],
    });
    expect(http[1]).toMatchObject({
      name: 'split',
      route: [
        { destination: { host: `web-latest.${NS}.svc.cluster.local` }, weight: 75 },
        { destination: { host: `web-v2.${NS}.svc.cluster.local` }, weight: 25 },
      ],
      timeout: '10s',
      retries: { attempts: 3 },
    });
    expect(applies('HTTPRoute')).toHaveLength(0);
    await p.down();
  });
});

describe('kubernetes provider: what it shares with the local provider', () => {
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

  it('applies whole weights that total 100 for a fractional split', async () => {
    const p = provider();
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    await p.deploy('web', { service: 'web', version: 'v2' }, { replicas: 1, initialWeight: 0 });
    await p.deploy('web', { service: 'web', version: 'v3' }, { replicas: 1, initialWeight: 0 });
    await p.setTraffic('web', { weights: { v1: 33.5, v2: 33.5, v3: 33 } });
    // Rounding each share on its own gave 34 + 34 + 33 = 101.
    expect(kube.get('httproutes', 'web')?.metadata.annotations?.['platformctl.dev/weights']).toBe(
      '{"v1":34,"v2":33,"v3":33}',
    );
  });
});
