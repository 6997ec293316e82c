/**
 * Used only for pod logs (test/kubernetes/provider-logs.test.ts): the real control plane of
 * test/helpers/kube-controlplane.ts has no kubelets, so nothing there can serve container output.
 * Everything else about the kubernetes provider is tested against that real control plane.
 *
 * A local stand-in for the part of the Kubernetes API platformctl uses: API discovery,
 * server-side apply (PATCH `application/apply-patch+yaml` with `fieldManager`, `force`), GET/LIST
 * with label selectors, DELETE, the Deployment scale subresource (merge patch), pod logs and
 * Chaos Mesh custom objects. A tiny Deployment controller keeps pods in line with `replicas`; tests
 * script what each pod does (become ready, or get stuck in ImagePullBackOff) through `podBehaviour`.
 * Every request is recorded (method, path, query, content type, parsed body) for assertions.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface KubeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string | undefined;
  body: unknown;
}

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
} & Record<string, unknown>;

/** What a pod of a given image does: become ready (after one poll), or wait with a reason. */
export type PodBehaviour = 'ready' | { reason: string; message: string };

export interface KubeStandin {
  url: string;
  token: string;
  requests: KubeRequest[];
  /** Decides per pod (by its container image) what happens to it. */
  podBehaviour: (image: string) => PodBehaviour;
  /** Log lines each pod returns. */
  podLogs: (pod: string) => string[];
  /** Stored objects of a resource (plural), e.g. `deployments`, `httproutes`. */
  objects(plural: string): Obj[];
  get(plural: string, name: string): Obj | undefined;
  /** Writes a kubeconfig pointing at the stand-in (context `standin`) and returns its path. */
  kubeconfig(dir: string, namespace?: string): string;
  close(): Promise<void>;
}

interface Resource {
  plural: string;
  kind: string;
}

const GROUPS: Record<string, Resource[]> = {
  v1: [
    { plural: 'pods', kind: 'Pod' },
    { plural: 'services', kind: 'Service' },
    { plural: 'serviceaccounts', kind: 'ServiceAccount' },
  ],
  'apps/v1': [{ plural: 'deployments', kind: 'Deployment' }],
  'gateway.networking.k8s.io/v1': [{ plural: 'httproutes', kind: 'HTTPRoute' }],
  'networking.istio.io/v1': [
    { plural: 'virtualservices', kind: 'VirtualService' },
    { plural: 'destinationrules', kind: 'DestinationRule' },
  ],
  'security.istio.io/v1': [{ plural: 'peerauthentications', kind: 'PeerAuthentication' }],
  'chaos-mesh.org/v1alpha1': [
    { plural: 'httpchaos', kind: 'HTTPChaos' },
    { plural: 'networkchaos', kind: 'NetworkChaos' },
    { plural: 'podchaos', kind: 'PodChaos' },
  ],
};

/** Timestamps as the API server writes them: RFC 3339 with whole seconds. */
function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

function matches(labels: Record<string, string> | undefined, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return labels?.[k as string] === v;
  });
}

export async function startKubeStandin(): Promise<KubeStandin> {
  const token = `standin-${randomBytes(6).toString('hex')}`;
  const requests: KubeRequest[] = [];
  /** gv/plural -> key ns/name -> object */
  const store = new Map<string, Map<string, Obj>>();
  let rv = 1;
  const bucket = (gv: string, plural: string) => {
    const key = `${gv}/${plural}`;
    let m = store.get(key);
    if (!m) {
      m = new Map();
      store.set(key, m);
    }
    return m;
  };
  const standin = {
    podBehaviour: (_image: string): PodBehaviour => 'ready',
    podLogs: (pod: string) => [
      JSON.stringify({ level: 30, time: 1, msg: 'listening', port: 8080, instance: pod }),
      JSON.stringify({ level: 50, time: 2, msg: 'boom', reqId: 'r-1', instance: pod }),
    ],
  };

  const kindOf = (gv: string, plural: string) => GROUPS[gv]?.find((r) => r.plural === plural)?.kind;

  // ── the Deployment controller ───────────────────────────────────────────────────────────────
  const podsOf = (dep: Obj) =>
    [...bucket('v1', 'pods').values()].filter(
      (p) => p.metadata.namespace === dep.metadata.namespace && p.metadata.ownerName === dep.metadata.name,
    );

  const reconcile = (dep: Obj) => {
    const spec = dep.spec as {
      replicas?: number;
      template: {
        metadata: { labels: Record<string, string> };
        spec: { containers: { name: string; image: string }[] };
      };
    };
    const want = spec.replicas ?? 1;
    const pods = podsOf(dep);
    for (const extra of pods.slice(want))
      bucket('v1', 'pods').delete(`${extra.metadata.namespace}/${extra.metadata.name}`);
    for (let i = pods.length; i < want; i++) {
      const name = `${dep.metadata.name}-${randomBytes(3).toString('hex')}`;
      const container = spec.template.spec.containers[0] as { name: string; image: string };
      bucket('v1', 'pods').set(`${dep.metadata.namespace}/${name}`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: dep.metadata.namespace,
          labels: { ...spec.template.metadata.labels },
          ownerName: dep.metadata.name,
          creationTimestamp: now(),
        },
        spec: { containers: [{ name: container.name, image: container.image }] },
        status: {
          phase: 'Pending',
          podIP: `10.0.0.${Math.floor(Math.random() * 250) + 2}`,
          conditions: [{ type: 'Ready', status: 'False' }],
          containerStatuses: [
            {
              name: container.name,
              image: container.image,
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ContainerCreating' } },
            },
          ],
        },
        polls: 0,
      });
    }
  };

  /** One step of the kubelet per read: pending pods become ready or get stuck. */
  const tick = (dep: Obj) => {
    reconcile(dep);
    let ready = 0;
    for (const pod of podsOf(dep)) {
      const cs = ((pod.status?.containerStatuses ?? []) as Record<string, unknown>[])[0] as {
        image: string;
        ready: boolean;
        state: unknown;
      };
      const polls = (pod.polls as number) + 1;
      pod.polls = polls;
      if (polls >= 2 && !cs.ready) {
        const b = standin.podBehaviour(cs.image);
        if (b === 'ready') {
          cs.ready = true;
          cs.state = { running: { startedAt: new Date().toISOString() } };
          (pod.status as Record<string, unknown>).phase = 'Running';
          (pod.status as Record<string, unknown>).startTime = new Date().toISOString();
          (pod.status as Record<string, unknown>).conditions = [{ type: 'Ready', status: 'True' }];
        } else cs.state = { waiting: { reason: b.reason, message: b.message } };
      }
      if (cs.ready) ready++;
    }
    const replicas = (dep.spec as { replicas?: number }).replicas ?? 1;
    dep.status = {
      observedGeneration: dep.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: ready,
      availableReplicas: ready,
    };
  };

  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const contentType = req.headers['content-type'];
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType,
      body,
    });
    const send = (status: number, data: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(typeof data === 'string' && type !== 'application/json' ? data : JSON.stringify(data));
    };
    const status = (code: number, reason: string, message: string) =>
      send(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
    if (req.headers.authorization !== `Bearer ${token}`) return status(401, 'Unauthorized', 'Unauthorized');

    // Discovery
    const disc = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))$/.exec(url.pathname);
    if (disc && req.method === 'GET') {
      const gv = (disc[1] ?? disc[2]) as string;
      const resources = GROUPS[gv];
      if (!resources) return status(404, 'NotFound', `no API ${gv}`);
      return send(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: gv,
        resources: resources.map((r) => ({
          name: r.plural,
          singularName: r.kind.toLowerCase(),
          namespaced: true,
          kind: r.kind,
          verbs: ['get', 'list', 'patch', 'delete', 'create'],
        })),
      });
    }
    // Every namespace exists here: the provider reads its namespace before applying into it.
    const namespace = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname);
    if (namespace && req.method === 'GET')
      return send(200, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace[1] } });
    const m =
      /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(
        url.pathname,
      );
    if (!m) return status(404, 'NotFound', `no route ${url.pathname}`);
    const gv = (m[1] ?? m[2]) as string;
    const [ns, plural, name, sub] = [m[3] as string, m[4] as string, m[5], m[6]];
    const kind = kindOf(gv, plural);
    if (!kind)
      return status(404, 'NotFound', `the server could not find the requested resource ${gv}/${plural}`);
    const items = bucket(gv, plural);
    const key = `${ns}/${name}`;

    if (!name) {
      if (req.method === 'GET') {
        const list = [...items.values()].filter(
          (o) =>
            o.metadata.namespace === ns &&
            matches(o.metadata.labels, url.searchParams.get('labelSelector') ?? undefined),
        );
        if (plural === 'deployments') list.forEach(tick);
        if (plural === 'pods') for (const d of bucket('apps/v1', 'deployments').values()) reconcile(d);
        const fresh = [...items.values()].filter(
          (o) =>
            o.metadata.namespace === ns &&
            matches(o.metadata.labels, url.searchParams.get('labelSelector') ?? undefined),
        );
        return send(200, {
          apiVersion: gv,
          kind: `${kind}List`,
          metadata: { resourceVersion: String(rv) },
          items: fresh,
        });
      }
      if (req.method === 'POST') {
        const obj = body as Obj;
        if (!obj?.metadata?.name) return status(422, 'Invalid', 'metadata.name is required');
        if (items.has(`${ns}/${obj.metadata.name}`))
          return status(409, 'AlreadyExists', `${plural} "${obj.metadata.name}" already exists`);
        const stored = {
          ...obj,
          metadata: {
            ...obj.metadata,
            namespace: ns,
            uid: randomBytes(8).toString('hex'),
            resourceVersion: String(++rv),
            creationTimestamp: now(),
          },
        };
        items.set(`${ns}/${obj.metadata.name}`, stored);
        return send(201, stored);
      }
      return status(405, 'MethodNotAllowed', 'method not allowed');
    }

    const existing = items.get(key);
    if (sub === 'log' && plural === 'pods' && req.method === 'GET') {
      if (!existing) return status(404, 'NotFound', `pods "${name}" not found`);
      let lines = standin.podLogs(name);
      const tail = url.searchParams.get('tailLines');
      if (tail) lines = lines.slice(-Number(tail));
      return send(200, `${lines.join('\n')}\n`, 'text/plain');
    }
    if (sub === 'scale' && plural === 'deployments') {
      if (!existing) return status(404, 'NotFound', `deployments.apps "${name}" not found`);
      if (req.method === 'PATCH') {
        if (contentType !== 'application/merge-patch+json')
          return status(415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`);
        const replicas = (body as { spec?: { replicas?: number } })?.spec?.replicas;
        if (typeof replicas !== 'number') return status(422, 'Invalid', 'spec.replicas is required');
        (existing.spec as Record<string, unknown>).replicas = replicas;
        existing.metadata.generation = (existing.metadata.generation as number) + 1;
        reconcile(existing);
      }
      const replicas = (existing.spec as { replicas: number }).replicas;
      return send(200, {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name, namespace: ns },
        spec: { replicas },
        status: { replicas },
      });
    }
    if (sub) return status(404, 'NotFound', `no subresource ${sub}`);

    if (req.method === 'GET') {
      if (!existing) return status(404, 'NotFound', `${plural} "${name}" not found`);
      if (plural === 'deployments') tick(existing);
      return send(200, existing);
    }
    if (req.method === 'DELETE') {
      if (!existing) return status(404, 'NotFound', `${plural} "${name}" not found`);
      items.delete(key);
      if (plural === 'deployments')
        for (const p of podsOf(existing)) bucket('v1', 'pods').delete(`${ns}/${p.metadata.name}`);
      return send(200, {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Success',
        details: { name, kind: plural },
      });
    }
    if (req.method === 'PATCH') {
      if (contentType !== 'application/apply-patch+yaml')
        return status(415, 'UnsupportedMediaType', `unsupported patch type ${contentType}`);
      if (!url.searchParams.get('fieldManager'))
        return status(422, 'Invalid', 'fieldManager is required for apply patch');
      const obj = body as Obj;
      if (obj?.kind !== kind || obj.metadata?.name !== name)
        return status(400, 'BadRequest', 'the body does not match the path');
      const generation = existing
        ? JSON.stringify(existing.spec) === JSON.stringify(obj.spec)
          ? (existing.metadata.generation as number)
          : (existing.metadata.generation as number) + 1
        : 1;
      const stored: Obj = {
        ...obj,
        metadata: {
          ...obj.metadata,
          namespace: ns,
          uid: (existing?.metadata.uid as string) ?? randomBytes(8).toString('hex'),
          creationTimestamp: (existing?.metadata.creationTimestamp as string) ?? now(),
          resourceVersion: String(++rv),
          generation,
          managedFields: [{ manager: url.searchParams.get('fieldManager'), operation: 'Apply' }],
        },
        ...(existing?.status ? { status: existing.status } : {}),
      };
      items.set(key, stored);
      if (plural === 'deployments') reconcile(stored);
      return send(existing ? 200 : 201, stored);
    }
    return status(405, 'MethodNotAllowed', 'method not allowed');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(standin, {
    url,
    token,
    requests,
    objects: (plural: string) => {
      const gv = Object.entries(GROUPS).find(([, rs]) => rs.some((r) => r.plural === plural))?.[0] ?? 'v1';
      return [...bucket(gv, plural).values()];
    },
    get(plural: string, name: string) {
      return this.objects(plural).find((o: Obj) => o.metadata.name === name);
    },
    kubeconfig(dir: string, namespace = 'default') {
      const file = join(dir, 'kubeconfig.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          `  - name: standin\n    cluster:\n      server: ${url}\n      insecure-skip-tls-verify: true`,
          'users:',
          `  - name: standin\n    user:\n      token: ${token}`,
          'contexts:',
          `  - name: standin\n    context:\n      cluster: standin\n      user: standin\n      namespace: ${namespace}`,
          'current-context: standin',
          '',
        ].join('\n'),
      );
      return file;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
