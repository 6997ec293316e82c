/**
 * Everything platformctl renders for a cluster, applied to a real API server with server-side
 * apply and strict field validation (an unknown or misplaced field fails): the Argo CD and Flux
 * trees of `gitops render` (each kustomization built with the upstream kustomize library, as Argo
 * CD and Flux build them), the External Secrets of `secrets render-external`, and the Chaos Mesh
 * Workflow of `chaos render`. The CRDs are upstream's (test/kube/upstream.json), so each custom
 * object is checked against the schema its operator really serves.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseGatewayConfig } from '../../runtime/gateway/src/gateway-config.ts';
import { loadPlatform } from '../../src/core/config/load.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import type { KubeObject } from '../../src/providers/kubernetes/manifests.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import {
  type ControlPlane,
  controlPlaneBinary,
  controlPlaneUnavailable,
  kubeApi,
  startControlPlane,
} from '../helpers/kube-controlplane.ts';
import { waitFor } from '../helpers/poll.ts';
import { renderProduction } from '../helpers/production-render.ts';

const unavailable = controlPlaneUnavailable();
let cp: ControlPlane;
let api: Awaited<ReturnType<typeof kubeApi>>;
let provider: KubernetesProvider;
const ws = workspace();

function docs(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => Boolean(o?.kind));
}

/** Every directory under `root` holding a kustomization.yaml, except the bases overlays include. */
function kustomizations(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(join(dir, 'kustomization.yaml')) && !dir.endsWith('/base')) out.push(dir);
    for (const e of readdirSync(dir)) if (statSync(join(dir, e)).isDirectory()) walk(join(dir, e));
  };
  walk(root);
  return out.sort();
}

/** Applies each object as platformctl does; returns `Kind namespace/name` of each. */
async function applyAll(objects: KubeObject[], fallbackNamespace: string): Promise<string[]> {
  const applied: string[] = [];
  for (const obj of objects) {
    const resource = await api.rest.resource(obj.apiVersion, obj.kind);
    if (!resource) throw new Error(`the control plane does not serve ${obj.kind} (${obj.apiVersion})`);
    if (resource.namespaced) obj.metadata.namespace ??= fallbackNamespace;
    await provider.apply(obj);
    applied.push(
      `${obj.kind} ${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`,
    );
  }
  return applied;
}

beforeAll(async () => {
  if (unavailable) return;
  cp = await startControlPlane();
  api = await kubeApi(cp.kubeconfig);
  copyFileSync(join(REPO_ROOT, 'platform.yaml'), join(ws.dir, 'platform.yaml'));
  mkdirSync(join(ws.dir, 'experiments'));
  copyFileSync(
    join(REPO_ROOT, 'experiments/content-latency.yaml'),
    join(ws.dir, 'experiments/content-latency.yaml'),
  );
  provider = new KubernetesProvider(loadPlatform(ws.dir), 'staging', { kubeconfig: cp.kubeconfig });
  // The namespaces the trees name: the platform's own (as platformctl creates it) and the agents'.
  for (const name of [provider.target.namespace, 'argocd', 'flux-system'])
    await provider.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}, 1_200_000);
afterAll(async () => {
  await cp?.stop();
  ws.dispose();
});

describe.skipIf(unavailable)('rendered manifests on a real API server (strict server-side apply)', () => {
  for (const flavour of ['argocd', 'flux'] as const) {
    it(`gitops render (${flavour}): every kustomization builds and every object applies`, async () => {
      const out = join(ws.dir, `gitops-${flavour}`);
      const r = await runCli(
        [
          'gitops',
          'render',
          '--env',
          'staging',
          '--out',
          out,
          '--repo-url',
          'https://git.example.com/acme/platform.git',
          ...(flavour === 'flux' ? ['--flux'] : []),
        ],
        { cwd: ws.dir, timeoutMs: 60_000 },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      const binary = controlPlaneBinary();
      const applied: string[] = [];
      for (const dir of kustomizations(out)) {
        const built = execFileSync(binary, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 << 20 });
        const objects = docs(built);
        expect(objects.length, relative(out, dir)).toBeGreaterThan(0);
        applied.push(...(await applyAll(objects, provider.target.namespace)));
      }
      // Argo CD's app of apps: the root Application and the directory of Applications it syncs.
      const argo = join(out, 'argocd', 'staging');
      if (existsSync(argo)) {
        const files = [
          join(argo, 'root.yaml'),
          ...readdirSync(join(argo, 'apps')).map((f) => join(argo, 'apps', f)),
        ];
        for (const file of files)
          applied.push(...(await applyAll(docs(readFileSync(file, 'utf8')), 'argocd')));
      }
      const ns = provider.target.namespace;
      for (const svc of ['gateway', 'auth', 'content', 'analytics']) {
        expect(applied).toContain(`Deployment ${ns}/${svc}`);
        expect(applied).toContain(`Service ${ns}/${svc}`);
      }
      for (const svc of ['auth', 'content', 'analytics']) expect(applied).toContain(`HTTPRoute ${ns}/${svc}`);
      // gRPC from outside reaches the platform gateway: a GRPCRoute the CRD accepts, to the h2c port.
      expect(applied.filter((a) => a.startsWith('GRPCRoute '))).toEqual([`GRPCRoute ${ns}/gateway`]);
      const grpcRoute = await api.get('gateway.networking.k8s.io/v1', 'GRPCRoute', 'gateway', ns);
      expect(grpcRoute.spec.parentRefs).toEqual([expect.objectContaining({ name: 'globalcontent-gateway' })]);
      expect(grpcRoute.spec.rules).toEqual([
        { backendRefs: [expect.objectContaining({ name: 'gateway', port: 81, weight: 100 })] },
      ]);
      const gatewaySvc = await api.get('v1', 'Service', 'gateway', ns);
      expect(gatewaySvc.spec.ports).toEqual([
        expect.objectContaining({ name: 'web', port: 80, targetPort: 'http' }),
        expect.objectContaining({ port: 81, targetPort: 'http', appProtocol: 'kubernetes.io/h2c' }),
      ]);
      // In-cluster links as stored: content finds auth (its gRPC GetPrincipal) at auth's Service.
      const env = async (svc: string) =>
        Object.fromEntries(
          (
            (await api.get('apps/v1', 'Deployment', svc, ns)).spec.template.spec.containers[0].env as {
              name: string;
              value?: string;
            }[]
          )
            .filter((e) => e.name.endsWith('_URL'))
            .map((e) => [e.name, e.value]),
        );
      const at = (svc: string) => `http://${svc}.${ns}.svc.cluster.local`;
      expect(await env('content')).toEqual({
        AUTH_URL: at('auth'),
        AUTH_JWKS_URL: `${at('auth')}/.well-known/jwks.json`,
      });
      expect(await env('gateway')).toEqual({
        AUTH_URL: at('auth'),
        AUTH_JWKS_URL: `${at('auth')}/.well-known/jwks.json`,
        CONTENT_URL: at('content'),
        ANALYTICS_URL: at('analytics'),
      });
      expect(await env('analytics')).toEqual({});
      // The gateway's routing file: each route of platform.yaml to its service's stable Service.
      const routes = await api.get('v1', 'ConfigMap', 'gateway-routes', ns);
      const routing = parseGatewayConfig(JSON.parse(routes.data['gateway.json']), 'gateway-routes');
      expect(routing.routes.map((r) => `${r.prefix} ${r.service}`)).toEqual([
        '/auth auth',
        '/.well-known auth',
        '/content content',
        '/analytics analytics',
      ]);
      for (const svc of ['auth', 'content', 'analytics'])
        expect(routing.services[svc]?.instances.map((i) => i.url)).toEqual([at(svc)]);
      const gatewayPod = (await api.get('apps/v1', 'Deployment', 'gateway', ns)).spec.template.spec;
      expect(gatewayPod.containers[0].env).toContainEqual({
        name: 'GATEWAY_CONFIG',
        value: '/etc/platformctl/gateway.json',
      });
      expect(gatewayPod.volumes).toContainEqual({
        name: 'routes',
        configMap: expect.objectContaining({ name: 'gateway-routes' }),
      });
      if (flavour === 'argocd') {
        expect(applied.filter((a) => a.startsWith('Application argocd/'))).toHaveLength(5); // root + 4
        const app = await api.get(
          'argoproj.io/v1alpha1',
          'Application',
          'globalcontent-staging-content',
          'argocd',
        );
        expect(app.spec.destination).toEqual({ server: 'https://kubernetes.default.svc', namespace: ns });
      } else {
        expect(applied).toContain('GitRepository flux-system/globalcontent');
        expect(applied.filter((a) => a.startsWith('Kustomization flux-system/'))).toHaveLength(4);
      }
      // Read back: the Deployment the overlay pinned is what the server stores.
      const dep = await api.get('apps/v1', 'Deployment', 'content', ns);
      expect(dep.spec.template.spec.containers[0].image).toMatch(/\/content:/);
    });
  }

  it('secrets render-external: SecretStore and ExternalSecrets match the External Secrets CRDs', async () => {
    for (const name of ['auth.JWT_SIGNING_KEY', 'content.S3_SECRET_KEY']) {
      const set = await runCli(['secrets', 'set', name, '--env', 'staging', '--generate'], {
        cwd: ws.dir,
        timeoutMs: 60_000,
      });
      expect(set.exitCode, set.stderr).toBe(0);
    }
    for (const store of ['vault', 'aws']) {
      const r = await runCli(
        ['secrets', 'render-external', '--env', 'staging', '--store', store, '--out', '-'],
        {
          cwd: ws.dir,
          timeoutMs: 60_000,
        },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      const applied = await applyAll(docs(r.stdout), provider.target.namespace);
      expect(applied.some((a) => a.startsWith('SecretStore '))).toBe(true);
      expect(applied.some((a) => a.startsWith('ExternalSecret '))).toBe(true);
    }
  });

  it('the managed backends reach the pods: overlays rendered with the stacks outputs, applied, read back', async () => {
    const binary = controlPlaneBinary();
    const r = await renderProduction(ws.dir, 'staging', {
      describe: `${binary} kustomize`,
      build: (dir) => execFileSync(binary, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 16 << 20 }),
    });
    const ns = provider.target.namespace;
    for (const objects of Object.values(r.manifests)) await applyAll(objects as KubeObject[], ns);
    await applyAll(r.externalSecrets as KubeObject[], ns);

    // What the API server stores, not what we rendered: the pods the Deployment controller made.
    const pods = await waitFor(
      'content pods with envFrom',
      async () => {
        const list = await api.list('v1', 'Pod', ns, 'app.kubernetes.io/name=content');
        return list.some((p) => p.spec.containers[0].envFrom) ? list : undefined;
      },
      600,
    );
    const pod = pods.find((p) => p.spec.containers[0].envFrom) as (typeof pods)[number];
    const envFrom = pod.spec.containers[0].envFrom as {
      configMapRef?: { name: string };
      secretRef?: { name: string; optional?: boolean };
    }[];
    const cm = await api.get('v1', 'ConfigMap', envFrom[0]?.configMapRef?.name ?? 'missing', ns);
    const db = new URL(cm?.data.DATABASE_URL);
    expect(db.hostname).toBe(r.outputs.database_host);
    expect(db.hostname).toMatch(/\.rds\.amazonaws\.com$/);
    expect(db.pathname).toBe('/content');
    expect(new URL(cm?.data.BUS_URL).host).toBe(new URL(r.outputs.broker_endpoint as string).host);
    expect(new URL(cm?.data.BLOBS_URL).hostname).toBe(r.outputs.content_bucket);
    expect(JSON.stringify(cm?.data)).not.toMatch(/:[^/@]+@/); // no password in a ConfigMap
    // Passwords: the Secret the stored ExternalSecret fills, from the names Terraform declares.
    expect(envFrom[1]?.secretRef).toEqual({ name: 'content-secrets', optional: false });
    const es = await api.get('external-secrets.io/v1', 'ExternalSecret', 'content-secrets', ns);
    expect(es).toBeDefined();
    const keys = Object.fromEntries(
      ((es as NonNullable<typeof es>).spec.data as { secretKey: string; remoteRef: { key: string } }[]).map(
        (d) => [d.secretKey, d.remoteRef.key],
      ),
    );
    const declared = Object.values(r.core.resource?.aws_secretsmanager_secret ?? {}).map((s) => s.name);
    expect(declared).toContain(keys.PGPASSWORD);
    expect(declared).toContain(keys.BUS_PASSWORD);
    // The pod runs as the service account that carries the role Terraform trusts it with.
    expect(pod.spec.serviceAccountName).toBe('content');
    const sa = await api.get('v1', 'ServiceAccount', 'content', ns);
    expect(sa?.metadata.annotations['eks.amazonaws.com/role-arn']).toBe(r.outputs.workload_identity);
    expect(r.outputs.workload_identity).toMatch(
      /^arn:aws:iam::\d+:role\/globalcontent-staging-\w+-platform-services$/,
    );
    // The gateway opens no backend: no database URL, and its secrets are optional.
    const gw = await api.get('apps/v1', 'Deployment', 'gateway', ns);
    const gwFrom = gw?.spec.template.spec.containers[0].envFrom;
    expect((await api.get('v1', 'ConfigMap', gwFrom[0].configMapRef.name, ns))?.data ?? {}).toEqual({});
    expect(gwFrom[1].secretRef.optional).toBe(true);
  }, 600_000);

  it('chaos render: the Chaos Mesh Workflow matches the Workflow CRD', async () => {
    const r = await runCli(['chaos', 'render', 'experiments/content-latency.yaml'], {
      cwd: ws.dir,
      timeoutMs: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const ns = provider.target.namespace;
    const applied = await applyAll(docs(r.stdout), ns);
    expect(applied).toEqual([`Workflow ${ns}/content-latency-500ms`]);
    expect(await api.get('chaos-mesh.org/v1alpha1', 'Workflow', 'content-latency-500ms', ns)).toBeDefined();
  });
});
