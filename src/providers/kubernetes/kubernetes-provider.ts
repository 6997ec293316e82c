/**
 * The Kubernetes provider: the Provider interface over a cluster's API with
 * @kubernetes/client-node (imported lazily: only commands that reach a cluster pay for it).
 *
 * - Every object is applied with server-side apply and strict field validation (field manager
 *   `platformctl`). A field another manager owns is taken over and reported (e.g. HTTPRoute weights
 *   an operator nudged by hand), except a Deployment's replicas owned by an autoscaler: platformctl
 *   leaves those to it instead of fighting an HPA on every deploy.
 * - The namespace is created when missing.
 * - A version is a Deployment plus a Service named `<service>-<version>`; `deploy` waits for its
 *   rollout and fails at once when a pod cannot pull its image or crash-loops.
 * - Traffic is a Gateway API HTTPRoute (default) or an Istio VirtualService, one weighted backend
 *   per version Service. Faults are Chaos Mesh objects; `kill` deletes a pod.
 */
import { PassThrough } from 'node:stream';
import type * as K8s from '@kubernetes/client-node';
import { levelRank, parseLogLine } from '../../../runtime/contract/log-line.ts';
import {
  apportion,
  weightTotal,
  withoutVersion,
  withVersionAt,
} from '../../../runtime/contract/traffic-weights.ts';
import type { LoadedPlatform } from '../../core/config/load.ts';
import type { ServiceSpec } from '../../core/config/schema.ts';
import { PlatformError, UsageError, unknownServiceError } from '../../core/errors.ts';
import { sleep } from '../../core/sleep.ts';
import type { VersionMetrics } from '../metrics/source.ts';
import type {
  DeployOptions,
  FaultHandle,
  FaultSpec,
  InstanceState,
  InstanceStatus,
  LogEntry,
  LogQuery,
  PlatformStatus,
  Provider,
  ProviderEvent,
  ReleaseRef,
  ServiceStatus,
  TrafficSpec,
  UpOptions,
} from '../provider.ts';
import {
  CHAOS_GROUP,
  CHAOS_PLURALS,
  CHAOS_VERSION,
  type ChaosObject,
  FAULT_LABEL,
  httpChaos,
  networkPartition,
} from './chaos.ts';
import {
  apiStatusError,
  connectionError,
  missingKindError,
  missingNamespaceError,
  statusReason,
} from './kube-errors.ts';
import { KubeApiError, KubeRest, objectPath } from './kube-rest.ts';
import {
  baseObjects,
  FIELD_MANAGER,
  type KubeObject,
  type KubeTarget,
  MANAGED_BY,
  NAME_LABEL,
  namespaceObjects,
  routed,
  targetOf,
  trafficObject,
  VERSION_LABEL,
  versionName,
  versionObjects,
  WEIGHTS_ANNOTATION,
} from './manifests.ts';

type ClientNode = typeof K8s;

/** Waiting reasons that never fix themselves: the rollout fails at once instead of timing out. */
export const FATAL_WAITING_REASONS = [
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
];

export interface KubernetesProviderOptions {
  /** A kubeconfig file; default: KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** How long `deploy` waits for a rollout (default 5 min). */
  rolloutTimeoutMs?: number;
  /** Poll interval while waiting for rollouts (default 1 s). */
  pollMs?: number;
}

interface Clients {
  k8s: ClientNode;
  kc: K8s.KubeConfig;
  objects: K8s.KubernetesObjectApi;
  apps: K8s.AppsV1Api;
  core: K8s.CoreV1Api;
  custom: K8s.CustomObjectsApi;
  rest: KubeRest;
}

/** How often one API call is tried while the server answers 429 Too Many Requests. */
const MAX_429_TRIES = 6;

/** Deployment annotation: when platformctl applied the version (orders versions within a second). */
const DEPLOYED_AT = 'platformctl.dev/deployed-at';

function isNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 404;
}

export class KubernetesProvider implements Provider {
  readonly name = 'kubernetes' as const;
  readonly platform: LoadedPlatform;
  readonly environment: string;
  readonly target: KubeTarget;
  private readonly options: KubernetesProviderOptions;
  private clientsPromise: Promise<Clients> | undefined;
  private faultSeq = 0;
  private namespaceApplied = false;

  constructor(platform: LoadedPlatform, environment: string, options: KubernetesProviderOptions = {}) {
    this.platform = platform;
    this.environment = environment;
    this.target = targetOf(platform.config, environment);
    this.options = options;
  }

  private get env() {
    return this.platform.config.environments[this.environment];
  }

  private clients(): Promise<Clients> {
    this.clientsPromise ??= (async () => {
      const k8s = await import('@kubernetes/client-node');
      const kc = new k8s.KubeConfig();
      if (this.options.kubeconfig) kc.loadFromFile(this.options.kubeconfig);
      else kc.loadFromDefault();
      const context = this.env?.kubeContext;
      if (context) {
        if (!kc.getContextObject(context)) {
          throw new PlatformError('KUBE_CONTEXT_UNKNOWN', `no kube context "${context}" in the kubeconfig`, {
            hint: `contexts: ${
              kc
                .getContexts()
                .map((c) => c.name)
                .join(', ') || 'none'
            }; set environments.${this.environment}.kubeContext or KUBECONFIG`,
          });
        }
        kc.setCurrentContext(context);
      }
      return {
        k8s,
        kc,
        objects: k8s.KubernetesObjectApi.makeApiClient(kc),
        apps: kc.makeApiClient(k8s.AppsV1Api),
        core: kc.makeApiClient(k8s.CoreV1Api),
        custom: kc.makeApiClient(k8s.CustomObjectsApi),
        rest: new KubeRest(kc),
      };
    })();
    return this.clientsPromise;
  }

  /**
   * Runs an API call; API refusals and connection failures become one clear error each. A 429
   * (the API server's "storage is (re)initializing", priority and fairness) is retried after the
   * delay the server asks for, a few times, as kubectl does.
   */
  private async call<T>(what: string, fn: (c: Clients) => Promise<T>): Promise<T> {
    const c = await this.clients();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(c);
      } catch (err) {
        if (err instanceof PlatformError) throw err;
        const ctx = { kc: c.kc, environment: this.environment, namespace: this.target.namespace };
        const status = (err as { code?: unknown }).code;
        const body = (err as { body?: unknown }).body;
        if (status === 429 && attempt < MAX_429_TRIES) {
          await sleep(Math.min(retryAfterSeconds(body), 5) * 1000);
          continue;
        }
        if (typeof status === 'number') throw apiStatusError(what, status, body, ctx, err);
        throw connectionError(what, err, ctx);
      }
    }
  }

  private spec(service: string): ServiceSpec {
    const spec = this.platform.config.services[service];
    if (!spec) {
      throw unknownServiceError(this.platform.config.services, service);
    }
    return spec;
  }

  /**
   * Server-side apply of one object with strict field validation. Without forcing first: when
   * another field manager owns a field platformctl sets, the Deployment's replicas are left to it
   * (an HPA scales that Deployment) and any other field is taken over with a note saying from whom.
   */
  async apply(obj: KubeObject, onEvent?: (e: ProviderEvent) => void): Promise<void> {
    await this.call(`apply ${obj.kind} ${obj.metadata.name}`, async (c) => {
      const resource = await c.rest.resource(obj.apiVersion, obj.kind);
      if (!resource) throw missingKindError(obj.apiVersion, obj.kind);
      try {
        await c.rest.apply(obj, resource, { fieldManager: FIELD_MANAGER, force: false });
        return;
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.code !== 409 || statusReason(err.body) !== 'Conflict')
          throw err;
        const conflicts = fieldConflicts(err.body);
        let body = obj;
        const replicas = conflicts.find((f) => f.field === '.spec.replicas');
        if (obj.kind === 'Deployment' && replicas) {
          const { replicas: _theirs, ...spec } = obj.spec as Record<string, unknown>;
          body = { ...obj, spec };
          onEvent?.({
            type: 'info',
            message: `left spec.replicas of Deployment ${obj.metadata.name} to ${replicas.manager} (it scales this Deployment)`,
          });
        }
        const leftToThem = body === obj ? undefined : '.spec.replicas';
        const taken = conflicts.filter((f) => f.field !== leftToThem);
        await c.rest.apply(body, resource, { fieldManager: FIELD_MANAGER, force: taken.length > 0 });
        for (const f of taken)
          onEvent?.({
            type: 'info',
            message: `overrode ${f.field} of ${obj.kind} ${obj.metadata.name}, which ${f.manager} had set`,
          });
      }
    });
  }

  /** Deletes one object; one that is gone, or whose kind the cluster does not serve, is fine. */
  private async deleteObject(apiVersion: string, kind: string, name: string): Promise<void> {
    await this.call(`delete ${kind} ${name}`, async (c) => {
      const resource = await c.rest.resource(apiVersion, kind);
      if (!resource) return;
      try {
        await c.rest.send('DELETE', objectPath(apiVersion, resource, name, this.target.namespace));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  // ------------------------------------------------------------------ reading the cluster

  private async deployments(service?: string): Promise<K8s.V1Deployment[]> {
    const labelSelector = service ? `${NAME_LABEL}=${service}` : 'app.kubernetes.io/managed-by=platformctl';
    const list = await this.call('list deployments', (c) =>
      c.apps.listNamespacedDeployment({ namespace: this.target.namespace, labelSelector }),
    );
    return list.items
      .filter((d) => d.metadata?.labels?.[VERSION_LABEL] !== undefined)
      .sort(
        (a, b) =>
          time(a.metadata?.creationTimestamp) - time(b.metadata?.creationTimestamp) ||
          // creationTimestamp has one-second resolution: two versions applied in the same second
          // are ordered by the millisecond time platformctl recorded.
          time(a.metadata?.annotations?.[DEPLOYED_AT]) - time(b.metadata?.annotations?.[DEPLOYED_AT]),
      );
  }

  private async pods(labelSelector: string): Promise<K8s.V1Pod[]> {
    const list = await this.call('list pods', (c) =>
      c.core.listNamespacedPod({ namespace: this.target.namespace, labelSelector }),
    );
    return list.items;
  }

  private async readTraffic(service: string): Promise<TrafficSpec | undefined> {
    const apiVersion =
      this.target.mesh === 'istio' ? 'networking.istio.io/v1' : 'gateway.networking.k8s.io/v1';
    const kind = this.target.mesh === 'istio' ? 'VirtualService' : 'HTTPRoute';
    return this.call(`read the ${kind} of ${service}`, async (c) => {
      const resource = await c.rest.resource(apiVersion, kind);
      if (!resource) throw missingKindError(apiVersion, kind);
      try {
        const obj = (await c.rest.send(
          'GET',
          objectPath(apiVersion, resource, service, this.target.namespace),
        )) as {
          metadata?: { annotations?: Record<string, string> };
        };
        const raw = obj.metadata?.annotations?.[WEIGHTS_ANNOTATION];
        return raw ? { weights: JSON.parse(raw) as Record<string, number> } : undefined;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
  }

  private instance(pod: K8s.V1Pod, port: number): InstanceStatus {
    const statuses = pod.status?.containerStatuses ?? [];
    const waiting = statuses.map((s) => s.state?.waiting?.reason).find(Boolean);
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    let state: InstanceState = 'starting';
    if (pod.metadata?.deletionTimestamp) state = 'stopping';
    else if (waiting === 'CrashLoopBackOff') state = 'crash-loop';
    else if (ready) state = 'ready';
    else if (statuses.some((s) => s.ready === false && s.restartCount > 0)) state = 'unhealthy';
    const started = pod.status?.startTime;
    return {
      id: pod.metadata?.name ?? '',
      service: pod.metadata?.labels?.[NAME_LABEL] ?? '',
      version: pod.metadata?.labels?.[VERSION_LABEL] ?? '',
      port,
      url: pod.status?.podIP ? `http://${pod.status.podIP}:${port}` : '',
      state,
      restarts: statuses.reduce((s, c) => s + (c.restartCount ?? 0), 0),
      ...(started ? { startedAt: new Date(started).toISOString() } : {}),
    };
  }

  private async serviceStatus(service: string): Promise<ServiceStatus> {
    const spec = this.spec(service);
    const deps = await this.deployments(service);
    const pods = await this.pods(`${NAME_LABEL}=${service}`);
    const versions = deps.map((d) => d.metadata?.labels?.[VERSION_LABEL] as string);
    const instances = pods
      .filter((p) => versions.includes(p.metadata?.labels?.[VERSION_LABEL] ?? ''))
      .map((p) => this.instance(p, spec.port));
    const traffic = routed(spec) && versions.length ? await this.readTraffic(service) : undefined;
    return {
      name: service,
      kind: spec.kind,
      versions,
      desiredReplicas: deps.reduce((s, d) => s + (d.spec?.replicas ?? 0), 0),
      instances,
      healthy: instances.length > 0 && instances.every((i) => i.state === 'ready'),
      ...(traffic ? { traffic } : {}),
    };
  }

  async status(): Promise<PlatformStatus> {
    const services: ServiceStatus[] = [];
    for (const name of Object.keys(this.platform.config.services))
      services.push(await this.serviceStatus(name));
    // The gateway's address is outside the cluster API (an ingress, a port-forward): the user
    // says where it answers, for the probes and workloads of `chaos run`.
    const gatewayUrl = process.env.PLATFORMCTL_GATEWAY_URL;
    return {
      provider: 'kubernetes',
      running: services.some((s) => s.versions.length > 0),
      services,
      metricsAvailable: false,
      ...(gatewayUrl ? { gatewayUrl } : {}),
    };
  }

  // ------------------------------------------------------------------ up / down

  /**
   * The namespace (created when missing) and, with Istio, STRICT mTLS for it before any workload
   * runs; once per provider.
   */
  private async ensureNamespaceObjects(onEvent?: (e: ProviderEvent) => void): Promise<void> {
    if (this.namespaceApplied) return;
    await this.ensureNamespace(onEvent);
    for (const obj of namespaceObjects(this.target)) await this.apply(obj, onEvent);
    this.namespaceApplied = true;
  }

  private async ensureNamespace(onEvent?: (e: ProviderEvent) => void): Promise<void> {
    const name = this.target.namespace;
    const exists = await this.call(`read namespace ${name}`, async (c) => {
      try {
        await c.core.readNamespace({ name });
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        // Credentials confined to the namespace may not read Namespace objects: go on and let
        // the first apply say whether the namespace is there.
        if ((err as { code?: unknown }).code === 403) return true;
        throw err;
      }
    });
    if (exists) return;
    try {
      await this.apply(
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...MANAGED_BY } } },
        onEvent,
      );
    } catch (err) {
      if ((err as PlatformError).code === 'KUBE_FORBIDDEN')
        throw missingNamespaceError(name, this.environment, err);
      throw err;
    }
    onEvent?.({ type: 'info', message: `created namespace ${name}` });
  }

  /** Applies every service at its running version (or `latest`) and waits for the rollouts. */
  async up(opts: UpOptions = {}): Promise<PlatformStatus> {
    await this.ensureNamespaceObjects(opts.onEvent);
    const names = opts.services?.length ? opts.services : Object.keys(this.platform.config.services);
    for (const name of names) {
      const running = (await this.deployments(name)).map(
        (d) => d.metadata?.labels?.[VERSION_LABEL] as string,
      );
      if (running.length) continue;
      const replicas = opts.replicas?.[name] ?? this.spec(name).replicas;
      await this.deploy(name, { service: name, version: 'latest' }, { replicas, onEvent: opts.onEvent });
    }
    return this.status();
  }

  async down(opts: { onEvent?: (e: ProviderEvent) => void } = {}): Promise<void> {
    for (const [name, spec] of Object.entries(this.platform.config.services)) {
      for (const d of await this.deployments(name))
        await this.removeVersion(name, spec, d.metadata?.labels?.[VERSION_LABEL] as string);
      if (routed(spec)) await this.deleteTraffic(name);
      for (const obj of baseObjects(this.target, name, spec))
        await this.deleteObject(obj.apiVersion, obj.kind, obj.metadata.name);
      opts.onEvent?.({ type: 'instance.stopped', instance: name, service: name });
    }
    await this.clearFaults();
  }

  private async deleteTraffic(service: string): Promise<void> {
    if (this.target.mesh === 'istio')
      await this.deleteObject('networking.istio.io/v1', 'VirtualService', service);
    else await this.deleteObject('gateway.networking.k8s.io/v1', 'HTTPRoute', service);
  }

  private async removeVersion(service: string, spec: ServiceSpec, version: string): Promise<void> {
    const name = versionName(service, version);
    await this.deleteObject('apps/v1', 'Deployment', name);
    if (routed(spec)) await this.deleteObject('v1', 'Service', name);
  }

  // ------------------------------------------------------------------ versions

  async deploy(service: string, release: ReleaseRef, opts: DeployOptions = {}): Promise<ServiceStatus> {
    const spec = this.spec(service);
    const replicas = opts.replicas ?? spec.replicas;
    // The namespace first: when it is missing, that is the error to report, not a refused list.
    await this.ensureNamespaceObjects(opts.onEvent);
    const others = (await this.deployments(service))
      .map((d) => d.metadata?.labels?.[VERSION_LABEL] as string)
      .filter((v) => v !== release.version);
    const initial = opts.initialWeight ?? (others.length ? 0 : 100);
    for (const obj of baseObjects(this.target, service, spec)) await this.apply(obj, opts.onEvent);
    const objects = versionObjects(this.target, service, spec, release.version, replicas);
    const deployment = objects[0] as KubeObject;
    deployment.metadata.annotations = {
      ...deployment.metadata.annotations,
      [DEPLOYED_AT]: new Date().toISOString(),
    };
    for (const obj of objects) await this.apply(obj, opts.onEvent);
    opts.onEvent?.({
      type: 'info',
      message: `applied ${versionName(service, release.version)} (${replicas} replicas)`,
    });
    try {
      await this.waitForRollout(service, release.version, replicas, opts.onEvent);
    } catch (err) {
      // A failed version leaves nothing behind (the engine's contract): the stable one keeps serving.
      await this.removeVersion(service, spec, release.version).catch(() => undefined);
      throw err;
    }
    if (routed(spec)) {
      const current = (await this.readTraffic(service))?.weights ?? {};
      const kept = Object.fromEntries(Object.entries(current).filter(([v]) => others.includes(v)));
      // No split recorded yet (the stable version came from elsewhere): the oldest version has it all.
      const before = Object.keys(kept).length || !others[0] ? kept : { [others[0]]: 100 };
      const weights = withVersionAt(before, release.version, initial);
      await this.applyTraffic(service, spec, { weights }, [...others, release.version]);
    }
    return this.serviceStatus(service);
  }

  /**
   * Polls the version's Deployment and pods until every replica is ready. A pod stuck on an image
   * pull error or in a crash loop fails the rollout at once with the kubelet's message.
   */
  private async waitForRollout(
    service: string,
    version: string,
    replicas: number,
    onEvent?: (e: ProviderEvent) => void,
  ): Promise<void> {
    const name = versionName(service, version);
    const timeoutMs = this.options.rolloutTimeoutMs ?? 300_000;
    const pollMs = this.options.pollMs ?? 1000;
    const started = Date.now();
    const announced = new Set<string>();
    let lastPods: K8s.V1Pod[] = [];
    while (Date.now() - started < timeoutMs) {
      const dep = await this.call(`read deployment ${name}`, (c) =>
        c.apps.readNamespacedDeployment({ name, namespace: this.target.namespace }),
      );
      const pods = await this.pods(`${NAME_LABEL}=${service},${VERSION_LABEL}=${version}`);
      for (const pod of pods) {
        for (const cs of [
          ...(pod.status?.initContainerStatuses ?? []),
          ...(pod.status?.containerStatuses ?? []),
        ]) {
          const reason = cs.state?.waiting?.reason;
          if (reason && FATAL_WAITING_REASONS.includes(reason)) {
            const image = cs.image ? ` (${cs.image})` : '';
            throw new PlatformError(
              reason === 'CrashLoopBackOff' ? 'ROLLOUT_CRASH_LOOP' : 'ROLLOUT_IMAGE_PULL',
              `${name}: pod ${pod.metadata?.name} is in ${reason}${image}: ${cs.state?.waiting?.message ?? 'no message'}`,
              {
                hint:
                  reason === 'CrashLoopBackOff'
                    ? `see its logs: platformctl logs ${service} --env ${this.environment}`
                    : `check that the image exists and the cluster may pull it (registry ${this.target.registry}, imagePullSecrets)`,
                details: { pod: pod.metadata?.name, reason },
              },
            );
          }
        }
        const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
        const podName = pod.metadata?.name ?? '';
        if (ready && !announced.has(podName)) {
          announced.add(podName);
          onEvent?.({ type: 'instance.ready', instance: podName, service, ms: Date.now() - started });
        }
      }
      const failed = dep.status?.conditions?.find(
        (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
      );
      if (failed) {
        throw new PlatformError(
          'ROLLOUT_STALLED',
          `${name}: ${failed.message ?? 'progress deadline exceeded'}`,
          {
            hint: `see \`kubectl -n ${this.target.namespace} describe deployment ${name}\``,
          },
        );
      }
      // Done as `kubectl rollout status` judges it, against the replicas the Deployment has now
      // (an HPA may own them), once the controller has seen the latest spec.
      const st = dep.status;
      const want = dep.spec?.replicas ?? replicas;
      const observed = (st?.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0);
      if (
        observed &&
        (st?.updatedReplicas ?? 0) >= want &&
        (st?.readyReplicas ?? 0) >= want &&
        (st?.availableReplicas ?? st?.readyReplicas ?? 0) >= want
      )
        return;
      lastPods = pods;
      await sleep(pollMs);
    }
    const unready = lastPods.find(
      (p) => !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    const condition = unready?.status?.conditions?.find((c) => c.type === 'Ready');
    const why = unready
      ? `: pod ${unready.metadata?.name} is ${unready.status?.phase ?? 'Pending'} but not Ready${
          condition?.reason
            ? ` (${condition.reason}${condition.message ? `: ${condition.message}` : ''})`
            : ''
        }`
      : '';
    throw new PlatformError(
      'ROLLOUT_TIMEOUT',
      `${name} was not ready within ${Math.round(timeoutMs / 1000)}s${why}`,
      {
        hint: `see \`kubectl -n ${this.target.namespace} describe pods -l ${VERSION_LABEL}=${version}\` (a failing readiness probe, or no node with room for it)`,
        details: unready ? { pod: unready.metadata?.name, reason: condition?.reason ?? 'NotReady' } : {},
      },
    );
  }

  async retire(service: string, version: string): Promise<ServiceStatus> {
    const spec = this.spec(service);
    if (routed(spec)) {
      const current = (await this.readTraffic(service))?.weights;
      if (current && version in current) {
        const remaining = Object.keys(current).filter((v) => v !== version);
        // The survivors share the retired version's weight, so traffic never drops below 100%.
        if (remaining.length)
          await this.applyTraffic(
            service,
            spec,
            { weights: withoutVersion(current, version, remaining[0]) },
            remaining,
          );
        else await this.deleteTraffic(service);
      }
    }
    await this.removeVersion(service, spec, version);
    return this.serviceStatus(service);
  }

  async setTraffic(service: string, traffic: TrafficSpec): Promise<void> {
    const spec = this.spec(service);
    const total = weightTotal(traffic.weights);
    if (Math.abs(total - 100) > 0.001) throw new UsageError(`traffic weights must sum to 100 (got ${total})`);
    if (!routed(spec)) throw new UsageError(`${service} is a worker: it takes no HTTP traffic`);
    const versions = (await this.deployments(service)).map(
      (d) => d.metadata?.labels?.[VERSION_LABEL] as string,
    );
    await this.applyTraffic(service, spec, traffic, versions);
  }

  private async applyTraffic(
    service: string,
    spec: ServiceSpec,
    traffic: TrafficSpec,
    versions: string[],
  ): Promise<void> {
    // Whole percentages totalling 100: rounding each share on its own can give 99 or 101.
    const weights = apportion(traffic.weights);
    const pinTo = [...versions].reverse().find((v) => v in weights);
    await this.apply(
      trafficObject(this.target, service, spec, {
        weights,
        ...(traffic.header ? { header: traffic.header } : {}),
        ...(pinTo ? { pinTo } : {}),
      }),
    );
  }

  async scale(service: string, replicas: number, opts: { version?: string } = {}): Promise<ServiceStatus> {
    this.spec(service);
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 32) {
      throw new UsageError(`replicas must be a whole number from 0 to 32 (got ${replicas})`);
    }
    const versions = (await this.deployments(service)).map(
      (d) => d.metadata?.labels?.[VERSION_LABEL] as string,
    );
    const version = opts.version ?? versions[0];
    if (!version || !versions.includes(version)) {
      throw new PlatformError(
        'NOT_RUNNING',
        `${service}${opts.version ? ` ${opts.version}` : ''} is not deployed in ${this.target.namespace}`,
        {
          hint: `deploy it first: platformctl deploy ${service} --env ${this.environment} --release <version>`,
        },
      );
    }
    const name = versionName(service, version);
    await this.call(`scale ${name}`, (c) =>
      c.apps.patchNamespacedDeploymentScale(
        { name, namespace: this.target.namespace, body: { spec: { replicas } }, fieldManager: FIELD_MANAGER },
        c.k8s.setHeaderOptions('Content-Type', c.k8s.PatchStrategy.MergePatch),
      ),
    );
    return this.serviceStatus(service);
  }

  // ------------------------------------------------------------------ logs

  logs(service: string, opts: LogQuery = {}): AsyncIterable<LogEntry> {
    if (service !== 'all') this.spec(service);
    const selector =
      service === 'all' ? 'app.kubernetes.io/managed-by=platformctl' : `${NAME_LABEL}=${service}`;
    return this.streamLogs(selector, opts);
  }

  private async *streamLogs(selector: string, opts: LogQuery): AsyncGenerator<LogEntry> {
    const pods = (await this.pods(selector)).filter(
      (p) => !opts.instance || p.metadata?.name === opts.instance,
    );
    if (opts.instance && pods.length === 0) {
      throw new PlatformError(
        'UNKNOWN_INSTANCE',
        `no pod "${opts.instance}" in ${this.target.namespace}`,
        {},
      );
    }
    const min = opts.level ? levelRank(opts.level) : 0;
    const keep = (e: LogEntry) =>
      levelRank(e.level) >= min &&
      (!opts.requestId || e.reqId === opts.requestId) &&
      (!opts.sinceMs || e.time >= Date.now() - opts.sinceMs);
    const c = await this.clients();
    const sinceSeconds = opts.sinceMs ? Math.max(1, Math.ceil(opts.sinceMs / 1000)) : undefined;
    if (!opts.follow) {
      for (const pod of pods) {
        const name = pod.metadata?.name ?? '';
        const text = await this.call(`read the logs of ${name}`, (cl) =>
          cl.core.readNamespacedPodLog({
            name,
            namespace: this.target.namespace,
            ...(opts.tail !== undefined ? { tailLines: opts.tail } : {}),
            ...(sinceSeconds ? { sinceSeconds } : {}),
          }),
        );
        for (const line of String(text).split('\n')) {
          if (!line.trim()) continue;
          const e = toEntry(pod, line);
          if (keep(e)) yield e;
        }
      }
      return;
    }
    // Follow: one Log API stream per pod, merged into a queue until the caller aborts.
    const queue: LogEntry[] = [];
    let wake: (() => void) | undefined;
    const log = new c.k8s.Log(c.kc);
    const controllers: AbortController[] = [];
    let open = pods.length;
    for (const pod of pods) {
      const stream = new PassThrough();
      let rest = '';
      stream.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) queue.push(toEntry(pod, line));
        wake?.();
      });
      // client-node 2 never calls the `done` callback: the end of the piped stream is the signal.
      stream.on('close', () => {
        if (rest.trim()) queue.push(toEntry(pod, rest));
        rest = '';
        open--;
        wake?.();
      });
      const container = pod.spec?.containers?.[0]?.name ?? '';
      controllers.push(
        await log.log(this.target.namespace, pod.metadata?.name ?? '', container, stream, {
          follow: true,
          ...(opts.tail !== undefined ? { tailLines: opts.tail } : {}),
          ...(sinceSeconds ? { sinceSeconds } : {}),
        }),
      );
    }
    const onAbort = () => wake?.();
    opts.signal?.addEventListener('abort', onAbort);
    try {
      while (!opts.signal?.aborted) {
        while (queue.length && !opts.signal?.aborted) {
          const e = queue.shift() as LogEntry;
          if (keep(e)) yield e;
        }
        if (open <= 0) break;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      for (const ac of controllers) ac.abort();
    }
  }

  // ------------------------------------------------------------------ metrics

  async metrics(service: string, version: string, windowMs: number): Promise<VersionMetrics> {
    const url = process.env.PLATFORMCTL_PROMETHEUS_URL ?? this.env?.prometheus;
    if (!url) {
      throw new PlatformError(
        'NOT_SUPPORTED',
        `the kubernetes provider has no metric source for environment "${this.environment}"`,
        {
          hint: `set environments.${this.environment}.prometheus (or PLATFORMCTL_PROMETHEUS_URL) to a Prometheus that scrapes the gateway, or PLATFORMCTL_GATEWAY_URL + PLATFORMCTL_ADMIN_TOKEN`,
        },
      );
    }
    const { PrometheusMetricSource } = await import('../metrics/prometheus.ts');
    return new PrometheusMetricSource({ url }).query(service, version, windowMs);
  }

  // ------------------------------------------------------------------ chaos

  async kill(instanceId: string): Promise<void> {
    await this.call(`delete pod ${instanceId}`, async (c) => {
      try {
        await c.core.deleteNamespacedPod({
          name: instanceId,
          namespace: this.target.namespace,
          gracePeriodSeconds: 0,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        throw new PlatformError('UNKNOWN_INSTANCE', `no pod "${instanceId}" in ${this.target.namespace}`, {
          hint: `list pods: platformctl status --env ${this.environment}`,
        });
      }
    });
  }

  private faultName(kind: string): string {
    this.faultSeq++;
    return `platformctl-${kind}-${Date.now().toString(36)}-${this.faultSeq}`;
  }

  private async createChaos(obj: ChaosObject): Promise<void> {
    await this.call(`create ${obj.kind} ${obj.metadata.name}`, async (c) => {
      if (!(await c.rest.resource(obj.apiVersion, obj.kind)))
        throw missingKindError(obj.apiVersion, obj.kind);
      return c.custom.createNamespacedCustomObject({
        group: CHAOS_GROUP,
        version: CHAOS_VERSION,
        namespace: this.target.namespace,
        plural: CHAOS_PLURALS[obj.kind],
        body: obj,
        fieldManager: FIELD_MANAGER,
      });
    });
  }

  private async deleteChaos(plural: string, name: string): Promise<void> {
    await this.call(`delete ${plural} ${name}`, async (c) => {
      try {
        await c.custom.deleteNamespacedCustomObject({
          group: CHAOS_GROUP,
          version: CHAOS_VERSION,
          namespace: this.target.namespace,
          plural,
          name,
        });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  async injectFault(fault: FaultSpec): Promise<string> {
    const spec = this.spec(fault.service);
    if (!fault.delayMs && !fault.abortPct) throw new UsageError('a fault needs delayMs or abortPct');
    const obj = httpChaos(this.target, this.faultName('http'), fault, spec.port);
    await this.createChaos(obj);
    return obj.metadata.name;
  }

  async clearFaults(id?: string): Promise<void> {
    if (id) {
      const plural = id.startsWith('platformctl-net-') ? CHAOS_PLURALS.NetworkChaos : CHAOS_PLURALS.HTTPChaos;
      await this.deleteChaos(plural, id);
      return;
    }
    for (const plural of Object.values(CHAOS_PLURALS)) {
      const list = (await this.call(`list ${plural}`, async (c) => {
        try {
          return await c.custom.listNamespacedCustomObject({
            group: CHAOS_GROUP,
            version: CHAOS_VERSION,
            namespace: this.target.namespace,
            plural,
            labelSelector: `${FAULT_LABEL}=true`,
          });
        } catch (err) {
          // Chaos Mesh not installed: there is nothing to clear.
          if (isNotFound(err)) return { items: [] };
          throw err;
        }
      })) as { items?: { metadata?: { name?: string } }[] };
      for (const item of list.items ?? [])
        if (item.metadata?.name) await this.deleteChaos(plural, item.metadata.name);
    }
  }

  async partition(dependency: string, opts: { service?: string } = {}): Promise<FaultHandle> {
    if (opts.service) this.spec(opts.service);
    const obj = networkPartition(this.target, this.faultName('net'), dependency, opts.service);
    await this.createChaos(obj);
    return {
      id: obj.metadata.name,
      heal: () => this.deleteChaos(CHAOS_PLURALS.NetworkChaos, obj.metadata.name),
    };
  }
}

/** The delay a 429 Status asks for (details.retryAfterSeconds), 1 s when it names none. */
function retryAfterSeconds(body: unknown): number {
  let b = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return 1;
    }
  }
  const s = (b as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
  return typeof s === 'number' && s > 0 ? s : 1;
}

/** The fields and managers of a server-side apply conflict (a 409 Status's causes). */
function fieldConflicts(body: unknown): { field: string; manager: string }[] {
  const causes = (body as { details?: { causes?: { field?: string; message?: string }[] } } | undefined)
    ?.details?.causes;
  return (causes ?? []).map((cause) => ({
    field: cause.field ?? '?',
    manager: /conflict with "([^"]+)"/.exec(cause.message ?? '')?.[1] ?? 'another manager',
  }));
}

function time(t: Date | string | undefined): number {
  return t ? new Date(t).getTime() : 0;
}

function toEntry(pod: K8s.V1Pod, line: string): LogEntry {
  const { service: _named, ...parsed } = parseLogLine(line);
  return {
    service: pod.metadata?.labels?.[NAME_LABEL] ?? '',
    instance: pod.metadata?.name ?? '',
    ...parsed,
  };
}
