/**
 * A real Kubernetes control plane for tests and `npm run kube:up`: etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler and kwok (simulated nodes, so the scheduler binds pods
 * and the Deployment controller sees them become Ready), all built from upstream source by
 * test/kube/build.sh and started here on free 127.0.0.1 ports with a fresh PKI in a temp dir.
 *
 * The CRDs platformctl's objects need (Gateway API, Istio, Chaos Mesh, External Secrets, Argo CD,
 * Flux) are the upstream YAML of the Go modules pinned in test/kube/upstream.json, installed and
 * waited for until Established.
 *
 * Test convention: a pod whose first image ends in `-never-ready` runs but never becomes Ready
 * (as a build whose readiness probe keeps failing would), so rollbacks can be tested.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { waitFor } from './poll.ts';

const run = promisify(execFile);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD_SCRIPT = join(REPO, 'test/kube/build.sh');
const UPSTREAM = join(REPO, 'test/kube/upstream.json');
/** Image suffix the test cluster holds Running but never Ready. */
export const NEVER_READY_SUFFIX = '-never-ready';

export interface ControlPlane {
  /** The temp directory holding the PKI, kubeconfigs, etcd data and component logs. */
  dir: string;
  /** An admin kubeconfig (client certificate in system:masters), context `kube-test`. */
  kubeconfig: string;
  /** `https://127.0.0.1:<port>`. */
  server: string;
  /** PEM of the cluster CA. */
  ca: string;
  /** The PIDs of the components, in start order. */
  pids: number[];
  /** Writes a kubeconfig for another identity (a token or a client certificate) and returns its path. */
  kubeconfigFor(name: string, user: KubeUser, cluster?: { server?: string; ca?: string | null }): string;
  /** Stops every component (SIGTERM, then SIGKILL) and removes the temp directory. */
  stop(): Promise<void>;
}

export interface KubeUser {
  token?: string;
  /** PEM client certificate and key. */
  cert?: string;
  key?: string;
}

export interface StartOptions {
  /** Where to put the PKI, data and logs (default: a new temp dir, removed on stop). */
  dir?: string;
  /**
   * Components receive SIGTERM when the process that started them dies (prctl PDEATHSIG), so a
   * test worker killed mid-run leaves nothing behind. `kube:up` turns this off to outlive npm.
   */
  dieWithParent?: boolean;
  /** Install the upstream CRDs (default true); false gives a bare cluster, to test a missing CRD. */
  crds?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** Why the control plane cannot be had on this machine, or undefined when it can. */
export function controlPlaneUnavailable(): string | undefined {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'the Go toolchain is not installed: the test control plane is built from upstream Kubernetes source';
  }
}

/**
 * Builds the control-plane binary if the cache lacks it; returns its path. Asynchronous, so a
 * test worker stays responsive through a first build of many minutes (progress on stderr).
 */
export async function buildControlPlane(): Promise<string> {
  const child = spawn('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`test/kube/build.sh failed (exit ${code}); its output is above`);
  return out.trim().split('\n').at(-1) as string;
}

/** The control-plane binary, built first if the cache lacks it (synchronous; see buildControlPlane). */
export function controlPlaneBinary(): string {
  const out = execFileSync('bash', [BUILD_SCRIPT], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  return out.trim().split('\n').at(-1) as string;
}

interface Upstream {
  crds: { module: string; version: string; files: string[]; only?: string[] }[];
  kwokStages: string[];
}

/**
 * The directories of Go module versions in the module cache, downloaded through the module proxy
 * (and checked against the checksum database) when missing; one `go` run for all of them.
 */
async function moduleDirs(versions: string[], cwd?: string): Promise<Map<string, string>> {
  const { stdout } = await run('go', ['mod', 'download', '-json', ...versions], {
    cwd: cwd ?? tmpdir(),
    maxBuffer: 4 << 20,
    env: { ...process.env, GOFLAGS: '-mod=mod' },
  });
  const dirs = new Map<string, string>();
  // `go mod download -json` prints one JSON object per module, one after another.
  for (const chunk of stdout.split(/\n(?=\{)/)) {
    const info = JSON.parse(chunk) as { Path: string; Version: string; Dir?: string; Error?: string };
    if (!info.Dir)
      throw new Error(`go mod download ${info.Path}@${info.Version}: ${info.Error ?? 'no directory'}`);
    dirs.set(`${info.Path}@${info.Version}`, info.Dir);
  }
  return dirs;
}

/** Every CRD document of the pinned upstream modules. */
export async function upstreamCrds(): Promise<Record<string, unknown>[]> {
  const upstream = JSON.parse(readFileSync(UPSTREAM, 'utf8')) as Upstream;
  const dirs = await moduleDirs(upstream.crds.map((src) => `${src.module}@${src.version}`));
  const docs: Record<string, unknown>[] = [];
  for (const src of upstream.crds) {
    const dir = dirs.get(`${src.module}@${src.version}`) as string;
    for (const file of src.files) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
        const obj = doc.toJS() as Record<string, unknown> | null;
        const name = (obj?.metadata as { name?: string } | undefined)?.name ?? '';
        if (obj?.kind === 'CustomResourceDefinition' && (!src.only || src.only.includes(name)))
          docs.push(obj);
      }
    }
  }
  return docs;
}

/**
 * kwok's upstream "fast" node and pod stages, with pod-ready narrowed so that images ending in
 * NEVER_READY_SUFFIX are left to a stage of ours that runs them without ever becoming Ready.
 */
async function kwokStages(): Promise<string> {
  const upstream = JSON.parse(readFileSync(UPSTREAM, 'utf8')) as Upstream;
  const version = execFileSync('go', ['list', '-m', '-f', '{{.Version}}', 'sigs.k8s.io/kwok'], {
    cwd: join(REPO, 'test/kube/controlplane'),
    encoding: 'utf8',
  }).trim();
  const kwok = `sigs.k8s.io/kwok@${version}`;
  const dir = (await moduleDirs([kwok], join(REPO, 'test/kube/controlplane'))).get(kwok) as string;
  const neverReady = `.spec.containers[0].image | endswith("${NEVER_READY_SUFFIX}")`;
  const stages: unknown[] = [];
  for (const file of upstream.kwokStages) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const stage = doc.toJS() as {
        metadata: { name: string };
        spec: { selector?: { matchExpressions?: unknown[] } };
      };
      if (stage.metadata.name === 'pod-ready') {
        stage.spec.selector?.matchExpressions?.push({ key: neverReady, operator: 'NotIn', values: ['true'] });
      }
      stages.push(stage);
    }
  }
  stages.push({
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'Stage',
    metadata: { name: 'pod-running-never-ready' },
    spec: {
      resourceRef: { apiGroup: 'v1', kind: 'Pod' },
      selector: {
        matchExpressions: [
          { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
          { key: '.status.phase', operator: 'In', values: ['Pending'] },
          { key: neverReady, operator: 'In', values: ['true'] },
        ],
      },
      next: {
        statusTemplate: `{{ $now := Now }}
conditions:
- { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }
- { type: PodScheduled, status: "True", lastTransitionTime: {{ $now | Quote }} }
- { type: ContainersReady, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}, message: "readiness probe failed: HTTP probe failed with statuscode: 503" }
- { type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}, message: "readiness probe failed: HTTP probe failed with statuscode: 503" }
containerStatuses:
{{ range .spec.containers }}
- image: {{ .image | Quote }}
  name: {{ .name | Quote }}
  ready: false
  started: true
  restartCount: 0
  state:
    running:
      startedAt: {{ $now | Quote }}
{{ end }}
phase: Running
startTime: {{ $now | Quote }}
`,
      },
    },
  });
  return stages.map((s) => stringify(s)).join('---\n');
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

function kubeconfigYaml(name: string, server: string, ca: string | undefined, user: KubeUser): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  // Only a plain-HTTP test proxy goes without a CA (client-node insists on the flag for http://).
  const trust = ca ? { 'certificate-authority-data': b64(ca) } : { 'insecure-skip-tls-verify': true };
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kube-test', cluster: { server, ...trust } }],
    users: [
      {
        name,
        user: {
          ...(user.token ? { token: user.token } : {}),
          ...(user.cert ? { 'client-certificate-data': b64(user.cert) } : {}),
          ...(user.key ? { 'client-key-data': b64(user.key) } : {}),
        },
      },
    ],
    contexts: [{ name: 'kube-test', context: { cluster: 'kube-test', user: name } }],
    'current-context': 'kube-test',
  });
}

/** GET a path of the API server with the admin certificate; resolves to the status code (0 when down). */
function probe(server: string, path: string, pki: string): Promise<{ status: number; body: string }> {
  return new Promise((res) => {
    const req = request(
      `${server}${path}`,
      {
        ca: readFileSync(join(pki, 'ca.crt')),
        cert: readFileSync(join(pki, 'admin.crt')),
        key: readFileSync(join(pki, 'admin.key')),
        timeout: 5000,
      },
      (r) => {
        let body = '';
        r.on('data', (c: Buffer) => {
          body += c.toString();
        });
        r.on('end', () => res({ status: r.statusCode ?? 0, body }));
      },
    );
    req.on('error', () => res({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts the control plane and resolves once it serves, with CRDs established and nodes Ready. */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const started = Date.now();
  const say = opts.log ?? (() => undefined);
  const log = (line: string) => say(`${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
  const binary = await buildControlPlane();
  const ownDir = !opts.dir;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'platformctl-kube-'));
  const pki = join(dir, 'pki');
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  execFileSync(binary, ['pki', pki], { stdio: ['ignore', 'ignore', 'inherit'] });
  const ca = readFileSync(join(pki, 'ca.crt'), 'utf8');
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiPort}`;
  const cert = (n: string): KubeUser => ({
    cert: readFileSync(join(pki, `${n}.crt`), 'utf8'),
    key: readFileSync(join(pki, `${n}.key`), 'utf8'),
  });
  const kubeconfigFor = (
    name: string,
    user: KubeUser,
    cluster: { server?: string; ca?: string | null } = {},
  ) => {
    const file = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      file,
      kubeconfigYaml(
        name,
        cluster.server ?? server,
        cluster.ca === null ? undefined : (cluster.ca ?? ca),
        user,
      ),
      {
        mode: 0o600,
      },
    );
    return file;
  };
  const kubeconfig = kubeconfigFor('admin', cert('admin'));
  for (const n of ['controller-manager', 'scheduler', 'kwok']) kubeconfigFor(n, cert(n));
  writeFileSync(join(dir, 'kwok-stages.yaml'), await kwokStages());

  const children: ChildProcess[] = [];
  const dieWithParent = opts.dieWithParent ?? true;
  const startComponent = (name: string, args: string[]) => {
    const out = openSync(join(logs, `${name}.log`), 'a');
    const child = spawn(binary, [name, ...args], {
      stdio: ['ignore', out, out],
      detached: !dieWithParent,
      env: { ...process.env, ...(dieWithParent ? { KUBE_CONTROLPLANE_PDEATHSIG: '1' } : {}) },
    });
    closeSync(out);
    if (!dieWithParent) child.unref();
    children.push(child);
    log(`started ${name} (pid ${child.pid})`);
    return child;
  };
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.pid) c.kill('SIGKILL');
  };
  if (dieWithParent) process.once('exit', killAll);

  const stop = async () => {
    for (const c of [...children].reverse()) {
      if (c.exitCode !== null || c.signalCode !== null || !c.pid) continue;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    process.removeListener('exit', killAll);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    startComponent('etcd', [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    startComponent('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver')}`,
      `--tls-cert-file=${join(pki, 'apiserver.crt')}`,
      `--tls-private-key-file=${join(pki, 'apiserver.key')}`,
      `--client-ca-file=${join(pki, 'ca.crt')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(pki, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=RBAC',
      '--enable-priority-and-fairness=false',
      // The "kubernetes" Service's endpoint may not be a loopback address; nothing here needs it.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--v=0',
    ]);
    await waitFor(
      'kube-apiserver /readyz',
      async () => {
        const r = await probe(server, '/readyz', pki);
        return r.status === 200 ? true : undefined;
      },
      240,
      250,
    );
    log(`kube-apiserver ready at ${server}`);
    const kc = (n: string) => join(dir, `${n}.kubeconfig`);
    startComponent('kube-controller-manager', [
      `--kubeconfig=${kc('controller-manager')}`,
      `--authentication-kubeconfig=${kc('controller-manager')}`,
      `--authorization-kubeconfig=${kc('controller-manager')}`,
      '--secure-port=0',
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${join(pki, 'sa.key')}`,
      `--root-ca-file=${join(pki, 'ca.crt')}`,
      '--profiling=false',
    ]);
    startComponent('kube-scheduler', [
      `--kubeconfig=${kc('scheduler')}`,
      `--authentication-kubeconfig=${kc('scheduler')}`,
      `--authorization-kubeconfig=${kc('scheduler')}`,
      '--secure-port=0',
      '--leader-elect=false',
      '--profiling=false',
    ]);
    startComponent('kwok', [
      `--kubeconfig=${kc('kwok')}`,
      `--config=${join(dir, 'kwok-stages.yaml')}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--cidr=10.244.0.0/16',
      '--node-ip=10.1.0.1',
    ]);
    if (opts.crds ?? true) await installCrds(kubeconfig, log);
    await addNodes(kubeconfig, log);
  } catch (err) {
    const logTails = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']
      .map((n) => `--- ${n}.log\n${tail(join(logs, `${n}.log`))}`)
      .join('\n');
    await stop();
    throw new Error(`${(err as Error).message}\n${logTails}`);
  }
  return {
    dir,
    kubeconfig,
    server,
    ca,
    pids: children.map((c) => c.pid as number),
    kubeconfigFor,
    stop,
  };
}

async function clients(kubeconfig: string) {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { k8s, kc, objects: k8s.KubernetesObjectApi.makeApiClient(kc) };
}

async function installCrds(kubeconfig: string, log: (l: string) => void): Promise<void> {
  const { k8s, kc } = await clients(kubeconfig);
  const { KubeRest } = await import('../../src/providers/kubernetes/kube-rest.ts');
  const rest = new KubeRest(kc);
  const crds = await upstreamCrds();
  // Raw, not client-node's models (they drop schema fields they do not know), and created rather
  // than server-side applied: the cluster is new, and SSA's field tracking of these large schemas
  // doubled the start-up time.
  const t0 = Date.now();
  for (const crd of crds)
    await rest.send('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
  log(`${crds.length} upstream CRDs created in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const established = async (name: string) => {
    const got = await ext.readCustomResourceDefinition({ name });
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
      ? true
      : undefined;
  };
  await Promise.all(
    crds.map((crd) => {
      const name = (crd.metadata as { name: string }).name;
      return waitFor(`CRD ${name} Established`, () => established(name), 240, 250);
    }),
  );
  log(`${crds.length} upstream CRDs established`);
}

async function addNodes(kubeconfig: string, log: (l: string) => void): Promise<void> {
  const { k8s, kc } = await clients(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const names = ['kwok-node-0', 'kwok-node-1'];
  for (const name of names) {
    await core.createNode({
      body: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', type: 'kwok' },
        },
        status: {
          allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
          capacity: { cpu: '32', memory: '256Gi', pods: '110' },
        },
      },
    });
  }
  await waitFor(
    'kwok nodes Ready',
    async () => {
      const list = await core.listNode();
      const ready = list.items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length === names.length ? true : undefined;
    },
    240,
    250,
  );
  log(`${names.length} kwok nodes Ready`);
}

/** Where `kube:up` records the running control plane for `kube:down`. */
export function upStateFile(): string {
  const root =
    process.env.PLATFORMCTL_KUBE_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? tmpdir(), '.cache'), 'platformctl-kube');
  mkdirSync(root, { recursive: true });
  return join(root, 'up.json');
}

export interface UpState {
  dir: string;
  kubeconfig: string;
  binary: string;
  pids: number[];
}

/** Stops a control plane recorded by `kube:up`: only PIDs still running our binary are signalled. */
export async function stopRecorded(state: UpState): Promise<number> {
  const ours = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] === state.binary;
    } catch {
      return false;
    }
  };
  let stopped = 0;
  for (const pid of [...state.pids].reverse()) {
    if (!ours(pid)) continue;
    process.kill(pid, 'SIGTERM');
    stopped++;
    for (let i = 0; i < 100 && ours(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (ours(pid)) process.kill(pid, 'SIGKILL');
  }
  if (existsSync(state.dir)) rmSync(state.dir, { recursive: true, force: true });
  return stopped;
}

/** Reads and writes the control plane as a test's admin, with discovery (any kind, CRDs included). */
export async function kubeApi(kubeconfig: string) {
  const { KubeRest, objectPath } = await import('../../src/providers/kubernetes/kube-rest.ts');
  const { k8s, kc } = await clients(kubeconfig);
  const rest = new KubeRest(kc);
  const pathOf = async (apiVersion: string, kind: string, name: string, namespace?: string) => {
    const resource = await rest.resource(apiVersion, kind);
    if (!resource) throw new Error(`the control plane does not serve ${kind} (${apiVersion})`);
    return objectPath(apiVersion, resource, name, namespace);
  };
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary objects back from the server
  type Obj = any;
  return {
    k8s,
    kc,
    rest,
    /** One object, or undefined when it does not exist. */
    async get(apiVersion: string, kind: string, name: string, namespace?: string): Promise<Obj | undefined> {
      try {
        return await rest.send('GET', await pathOf(apiVersion, kind, name, namespace));
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      }
    },
    /** Every object of a kind in a namespace, optionally by label selector. */
    async list(apiVersion: string, kind: string, namespace: string, labelSelector?: string): Promise<Obj[]> {
      const path = (await pathOf(apiVersion, kind, '', namespace)).replace(/\/$/, '');
      const q = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
      return ((await rest.send('GET', `${path}${q}`)) as { items: Obj[] }).items;
    },
    /** A merge patch as another field manager would send it (kubectl edit, an HPA). */
    async patch(
      apiVersion: string,
      kind: string,
      name: string,
      namespace: string,
      body: unknown,
      fieldManager: string,
      subresource = '',
    ): Promise<Obj> {
      const path = `${await pathOf(apiVersion, kind, name, namespace)}${subresource ? `/${subresource}` : ''}`;
      return rest.send('PATCH', `${path}?fieldManager=${fieldManager}`, body, 'application/merge-patch+json');
    },
    /** Creates an object as the admin. */
    async create(
      obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
        string,
        unknown
      >,
    ): Promise<Obj> {
      const path = (await pathOf(obj.apiVersion, obj.kind, '', obj.metadata.namespace)).replace(/\/$/, '');
      return rest.send('POST', path, obj);
    },
  };
}
