/**
 * The NetworkPolicies `gitops render` writes, built with the real kustomize and evaluated against
 * the platform's call graph: every edge the platform needs is allowed and every other pod-to-pod
 * edge is denied. Pod labels come from the kustomize output, so a selector that names a label the
 * pod template lacks fails here, as it would on a cluster.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { serviceUrlVariable } from '../../runtime/contract/runtime-env.ts';
import { runCli, workspace } from '../helpers/cli.ts';
import { kustomize } from '../helpers/kustomize.ts';
import {
  allowed,
  type Connection,
  type NetworkPolicy,
  type Peer,
  type Pod,
} from '../helpers/network-policy-eval.ts';

const PLATFORM = `name: acme
owner: ops
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes }
  qa: { cloud: gcp, region: europe-west1, provider: kubernetes }
services:
  gateway: { path: builtin:gateway, port: 8080, kind: gateway, dependsOn: [auth] }
  auth: { path: builtin:auth, port: 8081, routes: [/auth] }
  content: { path: builtin:content, port: 8082, routes: [/content] }
  analytics: { path: builtin:analytics, port: 8083, routes: [/analytics] }
  thumbs: { path: services/thumbs, port: 8090, kind: worker, dependsOn: [content] }
`;
const SERVICES = ['gateway', 'auth', 'content', 'analytics', 'thumbs'];
const PORTS: Record<string, number> = {
  gateway: 8080,
  auth: 8081,
  content: 8082,
  analytics: 8083,
  thumbs: 8090,
};
/**
 * Caller -> callees: the gateway calls the routed services; dependsOn adds the rest, and the
 * built-in content calls auth (gRPC GetPrincipal at AUTH_URL) without saying so in platform.yaml.
 */
const NEEDED = [
  ['gateway', 'auth'],
  ['gateway', 'content'],
  ['gateway', 'analytics'],
  ['content', 'auth'],
  ['thumbs', 'content'],
];

const tool = kustomize();
const ws = workspace({ 'platform.yaml': PLATFORM });
afterAll(() => ws.dispose());

type Objects = { pods: Map<string, Pod>; policies: NetworkPolicy[]; docs: Record<string, unknown>[] };

async function build(env: string): Promise<Objects> {
  const r = await runCli(['gitops', 'render', '--env', env, '--repo-url', 'https://github.com/acme/p.git'], {
    cwd: ws.dir,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  const docs: Record<string, unknown>[] = [];
  const root = join(ws.dir, 'gitops', 'services');
  for (const service of readdirSync(root)) {
    const text = tool?.build(join(root, service, 'overlays', env)) ?? '';
    docs.push(...parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>));
  }
  const pods = new Map<string, Pod>();
  const policies: NetworkPolicy[] = [];
  for (const d of docs) {
    const meta = d.metadata as { name: string; namespace: string };
    if (d.kind === 'Deployment') {
      const template = (d.spec as { template: { metadata: { labels: Record<string, string> } } }).template;
      pods.set(meta.name, { namespace: meta.namespace, labels: template.metadata.labels });
    }
    if (d.kind === 'NetworkPolicy') policies.push(d as unknown as NetworkPolicy);
  }
  return { pods, policies, docs };
}

describe.skipIf(!tool)(`gitops render: NetworkPolicies against the call graph (${tool?.describe})`, () => {
  let staging: Objects;
  let qa: Objects;
  beforeAll(async () => {
    staging = await build('staging');
    qa = await build('qa');
  }, 120_000);

  const pod = (o: Objects, name: string): Peer => {
    const p = o.pods.get(name);
    if (!p) throw new Error(`no pod for ${name}`);
    return { pod: p };
  };
  const monitoring = (name: string): Peer => ({
    pod: { namespace: 'monitoring', labels: { 'app.kubernetes.io/name': name } },
  });
  const dataPlane: Peer = {
    pod: {
      namespace: 'gateway-system',
      labels: { 'gateway.networking.k8s.io/gateway-name': 'acme-gateway' },
    },
  };
  const dns: Peer = { pod: { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } } };

  it('pod templates carry every label their own selectors, Services and policies select on', () => {
    for (const d of staging.docs) {
      const meta = d.metadata as { name: string };
      const labels = staging.pods.get(meta.name)?.labels ?? {};
      const selector =
        d.kind === 'Deployment'
          ? (d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels
          : d.kind === 'Service'
            ? (d.spec as { selector: Record<string, string> }).selector
            : d.kind === 'NetworkPolicy'
              ? (d.spec as { podSelector: { matchLabels: Record<string, string> } }).podSelector.matchLabels
              : undefined;
      if (selector) expect(labels, `${d.kind} ${meta.name}`).toMatchObject(selector);
    }
    expect(staging.policies.map((p) => p.metadata.name).sort()).toEqual([...SERVICES].sort());
  });

  it('SERVICE_VERSION reads a pod label that is set, to the image tag', () => {
    for (const d of staging.docs.filter((x) => x.kind === 'Deployment')) {
      const tpl = (
        d.spec as {
          template: {
            metadata: { labels: Record<string, string> };
            spec: {
              containers: {
                image: string;
                env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
              }[];
            };
          };
        }
      ).template;
      const container = tpl.spec.containers[0];
      const ref = container?.env.find((e) => e.name === 'SERVICE_VERSION')?.valueFrom?.fieldRef?.fieldPath;
      const label = /^metadata\.labels\['(.+)'\]$/.exec(ref ?? '')?.[1] as string;
      expect(tpl.metadata.labels[label]).toBe(container?.image.split(':').at(-1));
    }
  });

  it('allows every edge the platform needs', () => {
    const needed: [string, Connection][] = [
      ['data plane -> gateway', { from: dataPlane, to: pod(staging, 'gateway'), port: 8080 }],
      ...NEEDED.map(
        ([a, b]) =>
          [
            `${a} -> ${b}`,
            {
              from: pod(staging, a as string),
              to: pod(staging, b as string),
              port: PORTS[b as string] as number,
            },
          ] as [string, Connection],
      ),
      ...SERVICES.flatMap((s) => [
        [
          `prometheus -> ${s}`,
          { from: monitoring('prometheus'), to: pod(staging, s), port: PORTS[s] as number },
        ] as [string, Connection],
        [`${s} -> DNS`, { from: pod(staging, s), to: dns, port: 53, protocol: 'UDP' }] as [
          string,
          Connection,
        ],
        [
          `${s} -> OTLP`,
          { from: pod(staging, s), to: monitoring('opentelemetry-collector'), port: 4318 },
        ] as [string, Connection],
        // The managed database and broker sit in the environment's VPC (10.8.0.0/16 for staging).
        [`${s} -> PostgreSQL`, { from: pod(staging, s), to: { ip: '10.8.96.10' }, port: 5432 }] as [
          string,
          Connection,
        ],
        [`${s} -> RabbitMQ`, { from: pod(staging, s), to: { ip: '10.8.48.20' }, port: 5671 }] as [
          string,
          Connection,
        ],
        [`${s} -> S3 / STS`, { from: pod(staging, s), to: { ip: '52.218.1.1' }, port: 443 }] as [
          string,
          Connection,
        ],
      ]),
      [
        'qa (GKE) content -> metadata server',
        { from: pod(qa, 'content'), to: { ip: '169.254.169.254' }, port: 80 },
      ],
    ];
    const refused = needed
      .filter(([, c]) => !allowed(staging.policies.concat(qa.policies), c))
      .map(([n]) => n);
    expect(refused).toEqual([]);
  });

  it('the links each pod gets (<NAME>_URL) are exactly the service-to-service edges its policies allow', () => {
    type Container = {
      env?: { name: string; value?: string }[];
      ports?: { name: string; containerPort: number }[];
    };
    const deployments = staging.docs.filter((d) => d.kind === 'Deployment');
    const containerOf = (d: Record<string, unknown>) =>
      (d.spec as { template: { spec: { containers: Container[] } } }).template.spec
        .containers[0] as Container;
    /** The pod a cluster URL reaches: its Service by DNS name, the Service port, the pod port behind it. */
    const resolve = (url: URL): { service: string; port: number } => {
      const [name, ns, svc, ...rest] = url.hostname.split('.');
      expect([svc, ...rest].join('.'), url.href).toBe('svc.cluster.local');
      const service = staging.docs.find(
        (d) => d.kind === 'Service' && (d.metadata as { name: string; namespace: string }).name === name,
      ) as { metadata: { namespace: string }; spec: { ports: { port: number; targetPort: string }[] } };
      expect(service, `Service for ${url.href}`).toBeDefined();
      expect(service.metadata.namespace).toBe(ns);
      const port = service.spec.ports.find((p) => p.port === Number(url.port || 80));
      const backend = deployments.find((d) => (d.metadata as { name: string }).name === name) as Record<
        string,
        unknown
      >;
      const containerPort = containerOf(backend).ports?.find(
        (p) => p.name === port?.targetPort,
      )?.containerPort;
      return { service: name as string, port: containerPort as number };
    };
    const linked = new Set<string>();
    const refused: string[] = [];
    for (const d of deployments) {
      const from = (d.metadata as { name: string }).name;
      for (const e of containerOf(d).env ?? []) {
        if (!e.value?.startsWith('http://')) continue;
        const url = new URL(e.value);
        const to = resolve(url);
        expect([serviceUrlVariable(to.service), 'AUTH_JWKS_URL'], `${from} ${e.name}`).toContain(e.name);
        if (e.name === 'AUTH_JWKS_URL') expect(to.service).toBe('auth');
        linked.add(`${from}->${to.service}`);
        if (
          !allowed(staging.policies, {
            from: pod(staging, from),
            to: pod(staging, to.service),
            port: to.port,
          })
        )
          refused.push(`${from} ${e.name}=${e.value}`);
      }
    }
    expect(refused).toEqual([]);
    const unlinked: string[] = [];
    for (const from of SERVICES)
      for (const to of SERVICES) {
        const edge = { from: pod(staging, from), to: pod(staging, to), port: PORTS[to] as number };
        if (from !== to && allowed(staging.policies, edge) && !linked.has(`${from}->${to}`))
          unlinked.push(`${from}->${to}`);
      }
    expect(unlinked).toEqual([]);
    expect([...linked].sort()).toEqual(NEEDED.map(([a, b]) => `${a}->${b}`).sort());
  });

  it('denies every other pod-to-pod edge', () => {
    const others: [string, Peer][] = [
      ['data plane', dataPlane],
      [
        'a pod of another namespace',
        { pod: { namespace: 'default', labels: { 'app.kubernetes.io/name': 'gateway' } } },
      ],
      [
        'a look-alike pod of another platform',
        { pod: { namespace: 'acme-staging', labels: { 'app.kubernetes.io/name': 'gateway' } } },
      ],
    ];
    const sources: [string, Peer][] = [
      ...SERVICES.map((s) => [s, pod(staging, s)] as [string, Peer]),
      ...others,
    ];
    const wanted = new Set([...NEEDED.map(([a, b]) => `${a}->${b}`), 'data plane->gateway']);
    const leaks: string[] = [];
    for (const [from, peer] of sources) {
      for (const to of SERVICES) {
        if (from === to || wanted.has(`${from}->${to}`)) continue;
        for (const port of Object.values(PORTS)) {
          if (allowed(staging.policies, { from: peer, to: pod(staging, to), port }))
            leaks.push(`${from}->${to}:${port}`);
        }
      }
      // Nor may a platform pod reach arbitrary pods elsewhere (private addresses are not egress targets either).
      if ('pod' in peer && SERVICES.includes(from)) {
        const elsewhere: Peer = { pod: { namespace: 'default', labels: { app: 'x' } } };
        if (allowed(staging.policies, { from: peer, to: elsewhere, port: 443 }))
          leaks.push(`${from}->default pod`);
        if (allowed(staging.policies, { from: peer, to: { ip: '10.200.0.5' }, port: 443 }))
          leaks.push(`${from}->10.200.0.5:443`);
      }
    }
    expect(leaks).toEqual([]);
  });
});

it.skipIf(Boolean(tool))(
  'skipped: NetworkPolicy evaluation (no Go toolchain to build kustomize and no kubectl)',
  () => {},
);
