/**
 * The kubernetes provider against a real control plane (kube-apiserver, controller manager,
 * scheduler, etcd and kwok nodes built from upstream; see test/helpers/kube-controlplane.ts): what
 * each test asserts is read back from the API server, not from a record of requests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../runtime/gateway/src/gateway-config.ts';
import { loadPlatform } from '../../src/core/config/load.ts';
import { ExitCode } from '../../src/core/errors.ts';
import type { MetricSource } from '../../src/delivery/metrics.ts';
import { startRollout } from '../../src/delivery/rollout.ts';
import { compileConditions, resolveStrategy } from '../../src/delivery/strategy.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import { ProviderMetricSource } from '../../src/providers/metrics/provider-source.ts';
import type { ProviderEvent } from '../../src/providers/provider.ts';
import { openProvider } from '../../src/providers/provider.ts';
import {
  type ControlPlane,
  controlPlaneUnavailable,
  kubeApi,
  NEVER_READY_SUFFIX,
  startControlPlane,
} from '../helpers/kube-controlplane.ts';
import { waitFor } from '../helpers/poll.ts';

const unavailable = controlPlaneUnavailable();
if (unavailable) console.warn(`skipping the kubernetes provider tests: ${unavailable}`);

let cp: ControlPlane;
let api: Awaited<ReturnType<typeof kubeApi>>;
let dir: string;
let seq = 0;

function platformYaml(ns: string, mesh = 'gateway-api', extra = ''): string {
  return `name: shop
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging:
    cloud: aws
    region: eu-west-1
    provider: kubernetes
    namespace: ${ns}
    registry: registry.example.com/shop
    mesh: ${mesh}${extra}
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

/** A provider on a namespace of its own (which platformctl creates), so tests never see each other. */
function provider(opts: { mesh?: string; rolloutTimeoutMs?: number } = {}): KubernetesProvider {
  const ns = `shop-${++seq}`;
  const root = mkdtempSync(join(dir, 'p-'));
  writeFileSync(join(root, 'platform.yaml'), platformYaml(ns, opts.mesh));
  return new KubernetesProvider(loadPlatform(root), 'staging', {
    kubeconfig: cp.kubeconfig,
    pollMs: 100,
    rolloutTimeoutMs: opts.rolloutTimeoutMs ?? 45_000,
  });
}

type Route = { spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } };
/** The weights of an HTTPRoute as the API server has them, e.g. `web-v1=90,web-v2=10`. */
async function routeWeights(ns: string, service = 'web'): Promise<string | undefined> {
  const route = (await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', service, ns)) as
    | Route
    | undefined;
  return route?.spec.rules
    .at(-1)
    ?.backendRefs.map((b) => `${b.name}=${b.weight}`)
    .join(',');
}

beforeAll(async () => {
  if (unavailable) return;
  dir = mkdtempSync(join(tmpdir(), 'kube-provider-'));
  cp = await startControlPlane();
  api = await kubeApi(cp.kubeconfig);
}, 1_200_000);
afterAll(async () => {
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(unavailable)('kubernetes provider on a real control plane', () => {
  it('is what openProvider returns for a kubernetes environment', async () => {
    const p = provider();
    const opened = await openProvider(p.platform, 'staging');
    expect(opened).toBeInstanceOf(KubernetesProvider);
    expect(opened.name).toBe('kubernetes');
  });

  it('creates its namespace, applies with server-side apply and waits for the Deployment controller', async () => {
    const p = provider();
    const ns = p.target.namespace;
    const events: ProviderEvent[] = [];
    const st = await p.deploy(
      'web',
      { service: 'web', version: 'v1' },
      { replicas: 2, onEvent: (e) => events.push(e) },
    );
    expect(st).toMatchObject({ versions: ['v1'], healthy: true, traffic: { weights: { v1: 100 } } });
    expect(st.instances).toHaveLength(2);
    expect(events).toContainEqual({ type: 'info', message: `created namespace ${ns}` });

    const namespace = await api.get('v1', 'Namespace', ns);
    expect(namespace.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'platformctl' });
    const dep = await api.get('apps/v1', 'Deployment', 'web-v1', ns);
    expect(dep.metadata.labels).toMatchObject({
      'app.kubernetes.io/name': 'web',
      'platformctl.dev/version': 'v1',
    });
    expect(dep.spec.template.spec.containers[0].image).toBe('registry.example.com/shop/web:v1');
    expect(dep.spec.template.spec.containers[0].env).toContainEqual({ name: 'LOG_LEVEL', value: 'info' });
    // Applied, not updated, by platformctl; and the controller, not the provider, said it is done.
    expect(dep.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: 'platformctl', operation: 'Apply' }),
    );
    expect(dep.status).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
      availableReplicas: 2,
    });
    const pods = await api.list('v1', 'Pod', ns, 'platformctl.dev/version=v1');
    expect(pods).toHaveLength(2);
    for (const pod of pods) expect(pod.spec.nodeName).toMatch(/^kwok-node-/); // the scheduler bound it
    for (const name of ['web', 'web-v1']) expect(await api.get('v1', 'Service', name, ns)).toBeDefined();
    expect(await api.get('v1', 'ServiceAccount', 'web', ns)).toBeDefined();
    const route = await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web', ns);
    expect(route.spec.parentRefs).toEqual([{ group: '', kind: 'Service', name: 'web', port: 80 }]);
    expect(await routeWeights(ns)).toBe('web-v1=100');
  });

  it('validates strictly: a field the schema lacks is refused, not dropped', async () => {
    const p = provider();
    await p.deploy('jobs', { service: 'jobs', version: 'v1' }, { replicas: 1 });
    const err = await p
      .apply({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'jobs-v1', namespace: p.target.namespace },
        spec: { replicaz: 3 },
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KUBE_SCHEMA_MISMATCH', exitCode: 1 });
    expect((err as Error).message).toContain('.spec.replicaz: field not declared in schema');
  });

  it('leaves replicas to an HPA that scales the Deployment, and says which other fields it took back', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    await api.create({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web-v1', namespace: ns },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web-v1' },
        minReplicas: 1,
        maxReplicas: 5,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
          },
        ],
      },
    });
    // What the HPA controller does (it writes the scale subresource as kube-controller-manager), and
    // an operator's hand edit of a label platformctl sets.
    await api.patch(
      'apps/v1',
      'Deployment',
      'web-v1',
      ns,
      { spec: { replicas: 3 } },
      'kube-controller-manager',
      'scale',
    );
    await api.patch(
      'apps/v1',
      'Deployment',
      'web-v1',
      ns,
      { metadata: { labels: { 'app.kubernetes.io/part-of': 'hand-edited' } } },
      'kubectl-edit',
    );
    const events: string[] = [];
    await p.deploy(
      'web',
      { service: 'web', version: 'v1' },
      { replicas: 1, onEvent: (e) => e.type === 'info' && events.push(e.message) },
    );
    const dep = await api.get('apps/v1', 'Deployment', 'web-v1', ns);
    expect(dep.spec.replicas).toBe(3);
    expect(dep.metadata.labels['app.kubernetes.io/part-of']).toBe('shop');
    expect(events).toContain(
      'left spec.replicas of Deployment web-v1 to kube-controller-manager (it scales this Deployment)',
    );
    expect(events).toContain(
      'overrode .metadata.labels.app.kubernetes.io/part-of of Deployment web-v1, which kubectl-edit had set',
    );
    // The rollout waited for the 3 replicas the Deployment has, not the 1 asked for.
    expect(dep.status.readyReplicas).toBe(3);
  });

  it('a canary moves HTTPRoute weights on the server step by step and rolls back a bad release', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const seen: string[] = [];
    const bad: MetricSource = {
      name: 'fake',
      query: async (_s, version) => {
        const w = await routeWeights(ns);
        if (w && seen.at(-1) !== w) seen.push(w);
        return version === 'v2'
          ? { requests: 400, errors: 120, errorRate: 0.3, p50: 10, p95: 20, p99: 30 }
          : { requests: 4000, errors: 0, errorRate: 0, p50: 10, p95: 20, p99: 30 };
      },
    };
    const { strategy, origins } = resolveStrategy(p.platform.config, 'web');
    const result = await startRollout({
      root: p.platform.root,
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
    expect(seen).toEqual(['web-v1=90,web-v2=10']);
    expect(await routeWeights(ns)).toBe('web-v1=100');
    expect(await api.get('apps/v1', 'Deployment', 'web-v2', ns)).toBeUndefined();
    expect(await api.get('v1', 'Service', 'web-v2', ns)).toBeUndefined();
    expect((await p.status()).services.find((s) => s.name === 'web')?.versions).toEqual(['v1']);
  });

  it('a good canary is promoted: the server sees 10 -> 50 -> 100 and the old Deployment goes', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const seen: string[] = [];
    const good: MetricSource = {
      name: 'fake',
      query: async () => {
        const w = await routeWeights(ns);
        if (w && seen.at(-1) !== w) seen.push(w);
        return { requests: 1000, errors: 0, errorRate: 0, p50: 10, p95: 20, p99: 30 };
      },
    };
    const { strategy, origins } = resolveStrategy(p.platform.config, 'web');
    const result = await startRollout({
      root: p.platform.root,
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
    expect(seen).toEqual(['web-v1=90,web-v2=10', 'web-v1=50,web-v2=50']);
    expect(await routeWeights(ns)).toBe('web-v2=100');
    expect(await api.get('apps/v1', 'Deployment', 'web-v1', ns)).toBeUndefined();
    expect((await p.status()).services.find((s) => s.name === 'web')).toMatchObject({
      versions: ['v2'],
      traffic: { weights: { v2: 100 } },
    });
  });

  it('rolls back a release whose pods never become Ready, with the reason in the report', async () => {
    const p = provider({ rolloutTimeoutMs: 4000 });
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const { strategy, origins } = resolveStrategy(p.platform.config, 'web');
    const release = `v2${NEVER_READY_SUFFIX}`;
    const result = await startRollout({
      root: p.platform.root,
      service: 'web',
      release,
      strategy,
      conditions: compileConditions(undefined, origins),
      provider: p,
      source: {
        name: 'unused',
        query: async () => ({ requests: 0, errors: 0, errorRate: 0 }),
      } as MetricSource,
      replicas: 1,
      tickMs: 5,
      earlyAbort: false,
    });
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.phase).toBe('RolledBack');
    expect(result.state.outcome?.reason).toMatch(
      /never became ready: web-v2-never-ready was not ready within 4s: pod web-v2-never-ready-\S+ is Running but not Ready \(ContainersNotReady: readiness probe failed/,
    );
    expect(await api.get('apps/v1', 'Deployment', 'web-v2-never-ready', ns)).toBeUndefined();
    expect(await routeWeights(ns)).toBe('web-v1=100');
  });

  it('scales through the scale subresource; a killed pod is replaced by the ReplicaSet', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const scaled = await p.scale('web', 3);
    expect(scaled.desiredReplicas).toBe(3);
    expect((await api.get('apps/v1', 'Deployment', 'web-v1', ns)).spec.replicas).toBe(3);
    const pods = async () =>
      (await api.list('v1', 'Pod', ns, 'platformctl.dev/version=v1')).filter(
        (p: { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp,
      );
    await waitFor('3 pods', async () => ((await pods()).length === 3 ? true : undefined), 200);
    const victim = (await pods())[0].metadata.name as string;
    await p.kill(victim);
    await waitFor(
      'the killed pod replaced',
      async () => {
        const names = (await pods()).map((x: { metadata: { name: string } }) => x.metadata.name);
        return names.length === 3 && !names.includes(victim) ? true : undefined;
      },
      200,
    );
    await expect(p.kill('no-such-pod')).rejects.toMatchObject({ code: 'UNKNOWN_INSTANCE' });
    await expect(p.scale('web', 2, { version: 'v7' })).rejects.toMatchObject({ code: 'NOT_RUNNING' });
  });

  it('retire moves the weight to the survivors before deleting; status reads the server', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    await p.deploy('web', { service: 'web', version: 'v2' }, { replicas: 1, initialWeight: 30 });
    expect(await routeWeights(ns)).toBe('web-v1=70,web-v2=30');
    const st = await p.retire('web', 'v1');
    expect(st.versions).toEqual(['v2']);
    expect(await routeWeights(ns)).toBe('web-v2=100');
    expect(await api.get('apps/v1', 'Deployment', 'web-v1', ns)).toBeUndefined();
    const status = await p.status();
    expect(status).toMatchObject({ provider: 'kubernetes', running: true });
    expect(status.services.find((s) => s.name === 'web')).toMatchObject({ versions: ['v2'], healthy: true });
    await p.down();
    expect(await api.list('apps/v1', 'Deployment', ns)).toEqual([]);
    expect(await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web', ns)).toBeUndefined();
  });

  it('injects and clears faults as Chaos Mesh objects the CRD schema accepts', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const id = await p.injectFault({ service: 'web', version: 'v1', route: '/web/slow', delayMs: 300 });
    const chaos = await api.get('chaos-mesh.org/v1alpha1', 'HTTPChaos', id, ns);
    expect(chaos.spec).toMatchObject({
      mode: 'all',
      selector: {
        namespaces: [ns],
        labelSelectors: { 'app.kubernetes.io/name': 'web', 'platformctl.dev/version': 'v1' },
      },
      target: 'Request',
      port: 8080,
      path: '/web/slow*',
      delay: '300ms',
    });
    const handle = await p.partition('db', { service: 'web' });
    expect(await api.list('chaos-mesh.org/v1alpha1', 'NetworkChaos', ns)).toHaveLength(1);
    await handle.heal();
    expect(await api.list('chaos-mesh.org/v1alpha1', 'NetworkChaos', ns)).toHaveLength(0);
    await p.injectFault({ service: 'web', abortPct: 50 });
    await p.clearFaults();
    expect(await api.list('chaos-mesh.org/v1alpha1', 'HTTPChaos', ns)).toEqual([]);
  });

  it('runs a worker without a Service or a route; traffic to it is refused', async () => {
    const p = provider();
    const ns = p.target.namespace;
    const st = await p.deploy('jobs', { service: 'jobs', version: 'v1' }, { replicas: 1 });
    expect(st).toMatchObject({ kind: 'worker', versions: ['v1'], healthy: true });
    expect(st.traffic).toBeUndefined();
    expect(await api.get('apps/v1', 'Deployment', 'jobs-v1', ns)).toBeDefined();
    expect(await api.list('v1', 'Service', ns)).toEqual([]);
    expect(await api.list('gateway.networking.k8s.io/v1', 'HTTPRoute', ns)).toEqual([]);
    await expect(p.setTraffic('jobs', { weights: { v1: 100 } })).rejects.toMatchObject({ exitCode: 2 });
  });

  it('exposes only the gateway service at the cluster Gateway', async () => {
    const p = provider();
    await p.deploy('edge', { service: 'edge', version: 'v1' }, { replicas: 1 });
    const route = await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'edge', p.target.namespace);
    expect(route.spec).toMatchObject({
      parentRefs: [{ name: 'shop-gateway' }],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ name: 'edge-v1', weight: 100 }],
        },
      ],
    });
  });

  it('gRPC at the cluster Gateway: a GRPCRoute beside the HTTPRoute with the same canary weights and pin, to an h2c port', async () => {
    const p = provider();
    const ns = p.target.namespace;
    const grpcWeights = async () =>
      (
        (await api.get('gateway.networking.k8s.io/v1', 'GRPCRoute', 'edge', ns)) as Route | undefined
      )?.spec.rules
        .at(-1)
        ?.backendRefs.map((b) => `${b.name}=${b.weight}`)
        .join(',');
    await p.deploy('edge', { service: 'edge', version: 'v1' }, { replicas: 1 });
    expect(await grpcWeights()).toBe('edge-v1=100');
    await p.deploy('edge', { service: 'edge', version: 'v2' }, { replicas: 1, initialWeight: 10 });
    expect(await routeWeights(ns, 'edge')).toBe('edge-v1=90,edge-v2=10');
    expect(await grpcWeights()).toBe('edge-v1=90,edge-v2=10');
    await p.setTraffic('edge', { weights: { v1: 50, v2: 50 }, header: 'x-canary: always' });
    const route = await api.get('gateway.networking.k8s.io/v1', 'GRPCRoute', 'edge', ns);
    expect(route.spec.parentRefs).toEqual([expect.objectContaining({ name: 'shop-gateway' })]);
    expect(route.spec.rules).toEqual([
      {
        matches: [{ headers: [{ type: 'Exact', name: 'x-canary', value: 'always' }] }],
        backendRefs: [expect.objectContaining({ name: 'edge-v2', port: 81, weight: 1 })],
      },
      {
        backendRefs: [
          expect.objectContaining({ name: 'edge-v1', port: 81, weight: 50 }),
          expect.objectContaining({ name: 'edge-v2', port: 81, weight: 50 }),
        ],
      },
    ]);
    // The port the GRPCRoute names is the pod's one port, declared h2c; the shared port declares nothing.
    const svc = await api.get('v1', 'Service', 'edge-v2', ns);
    expect(svc.spec.ports).toEqual([
      expect.objectContaining({ name: 'web', port: 80, targetPort: 'http' }),
      expect.objectContaining({
        name: 'grpc',
        port: 81,
        targetPort: 'http',
        appProtocol: 'kubernetes.io/h2c',
      }),
    ]);
    expect(svc.spec.ports[0].appProtocol).toBeUndefined();
    await p.retire('edge', 'v1');
    expect(await grpcWeights()).toBe('edge-v2=100');
    await p.down();
    expect(await api.get('gateway.networking.k8s.io/v1', 'GRPCRoute', 'edge', ns)).toBeUndefined();
  });

  it('tells each version where the services it calls are (cluster DNS of their Services), and no others', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('edge', { service: 'edge', version: 'v1' }, { replicas: 1 });
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    const env = async (name: string) =>
      (
        (await api.get('apps/v1', 'Deployment', name, ns)).spec.template.spec.containers[0].env as {
          name: string;
          value?: string;
        }[]
      ).filter((e) => e.name.endsWith('_URL'));
    // The gateway calls the routed service `web`, not the worker; `web` calls no one.
    expect(await env('edge-v1')).toEqual([{ name: 'WEB_URL', value: `http://web.${ns}.svc.cluster.local` }]);
    expect(await env('web-v1')).toEqual([]);
  });

  it('gives the gateway its routing file (each route to its stable Service), which the gateway itself accepts', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('edge', { service: 'edge', version: 'v1' }, { replicas: 1 });
    const cm = await api.get('v1', 'ConfigMap', 'edge-routes', ns);
    // The gateway's own parser (what it runs at start), not a re-reading of what we rendered.
    const routing = parseGatewayConfig(JSON.parse(cm.data['gateway.json']), 'edge-routes');
    expect(routing.routes).toEqual([{ prefix: '/web', service: 'web' }]);
    expect(routing.services).toEqual({
      web: { instances: [{ id: 'web', url: `http://web.${ns}.svc.cluster.local`, version: 'stable' }] },
    });
    const pod = (await api.get('apps/v1', 'Deployment', 'edge-v1', ns)).spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'routes',
      configMap: expect.objectContaining({ name: 'edge-routes' }),
    });
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: 'routes',
      mountPath: '/etc/platformctl',
      readOnly: true,
    });
    expect(pod.containers[0].env).toContainEqual({
      name: 'GATEWAY_CONFIG',
      value: '/etc/platformctl/gateway.json',
    });
    await p.down();
    expect(await api.get('v1', 'ConfigMap', 'edge-routes', ns)).toBeUndefined();
  });

  it('with Istio: VirtualService weights read back after every change, plus STRICT mTLS', async () => {
    const p = provider({ mesh: 'istio' });
    const ns = p.target.namespace;
    await p.up({ services: ['web'] });
    const pa = await api.get('security.istio.io/v1', 'PeerAuthentication', 'default', ns);
    expect(pa.spec).toEqual({ mtls: { mode: 'STRICT' } });
    expect(await api.get('networking.istio.io/v1', 'DestinationRule', 'shop-mtls', ns)).toBeDefined();
    await p.deploy('web', { service: 'web', version: 'v2' }, { replicas: 1, initialWeight: 0 });
    const split = async () => {
      const vs = await api.get('networking.istio.io/v1', 'VirtualService', 'web', ns);
      const http = vs.spec.http as {
        name: string;
        route: { destination: { host: string }; weight: number }[];
      }[];
      return http
        .find((h) => h.name === 'split')
        ?.route.map((r) => `${r.destination.host.split('.')[0]}=${r.weight}`)
        .join(',');
    };
    expect(await split()).toBe('web-latest=100,web-v2=0');
    await p.setTraffic('web', { weights: { latest: 75, v2: 25 }, header: 'x-canary: always' });
    expect(await split()).toBe('web-latest=75,web-v2=25');
    const vs = await api.get('networking.istio.io/v1', 'VirtualService', 'web', ns);
    expect(vs.spec.http[0]).toMatchObject({
      name: 'preview',
      match: [{ uri: { prefix: '/' }, headers: { 'x-canary': { exact: 'always' } } }],
      route: [{ destination: { host: `web-v2.${ns}.svc.cluster.local` }, weight: 100 }],
    });
    expect(vs.spec.http[1]).toMatchObject({ timeout: '10s', retries: { attempts: 3 } });
    await p.setTraffic('web', { weights: { latest: 0, v2: 100 } });
    expect(await split()).toBe('web-latest=0,web-v2=100');
    expect(await api.list('gateway.networking.k8s.io/v1', 'HTTPRoute', ns)).toEqual([]);
    await p.down();
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
      const root = mkdtempSync(join(dir, 'prom-'));
      writeFileSync(
        join(root, 'platform.yaml'),
        platformYaml(
          'shop-prom',
          'gateway-api',
          `\n    prometheus: http://127.0.0.1:${(prom.address() as AddressInfo).port}`,
        ),
      );
      const p = new KubernetesProvider(loadPlatform(root), 'staging', { kubeconfig: cp.kubeconfig });
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
  it('applies whole weights that total 100 for a fractional split (the shared traffic-weight rule)', async () => {
    const p = provider();
    const ns = p.target.namespace;
    await p.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
    await p.deploy('web', { service: 'web', version: 'v2' }, { replicas: 1, initialWeight: 0 });
    await p.deploy('web', { service: 'web', version: 'v3' }, { replicas: 1, initialWeight: 0 });
    await p.setTraffic('web', { weights: { v1: 33.5, v2: 33.5, v3: 33 } });
    // Rounding each share on its own gave 34 + 34 + 33 = 101, which the server stored as given.
    const route = await api.get('gateway.networking.k8s.io/v1', 'HTTPRoute', 'web', ns);
    expect(route.metadata.annotations['platformctl.dev/weights']).toBe('{"v1":34,"v2":33,"v3":33}');
    expect(await routeWeights(ns)).toBe('web-v1=34,web-v2=33,web-v3=33');
  });
});
