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
 *
 * This file orchestrates; the concerns live beside it: kube-session.ts (clients, errors, apply),
 * kube-rest.ts (raw requests, discovery), kube-errors.ts (messages that name the fix),
 * rollout-wait.ts, pod-logs.ts, chaos-api.ts, and manifests.ts / chaos.ts (the objects).
 */
import type * as K8s from '@kubernetes/client-node';
import {
  apportion,
  weightTotal,
  withoutVersion,
  withVersionAt,
} from '../../../runtime/contract/traffic-weights.ts';
import { serviceLinks } from '../../core/config/call-graph.ts';
import type { LoadedPlatform } from '../../core/config/load.ts';
import type { ServiceSpec } from '../../core/config/schema.ts';
import { PlatformError, UsageError, unknownServiceError } from '../../core/errors.ts';
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
import { CHAOS_PLURALS, httpChaos, networkPartition } from './chaos.ts';
import { clearChaos, createChaos, deleteChaos } from './chaos-api.ts';
import { gatewayRoutesConfigMap, gatewayRoutesName, mountGatewayRoutes } from './gateway-routes.ts';
import { missingKindError, missingNamespaceError } from './kube-errors.ts';
import { objectPath } from './kube-rest.ts';
import { isNotFound, KubeSession } from './kube-session.ts';
import {
  baseObjects,
  clusterUrl,
  FIELD_MANAGER,
  type KubeObject,
  type KubeTarget,
  MANAGED_BY,
  NAME_LABEL,
  namespaceObjects,
  routed,
  targetOf,
  trafficObjects,
  VERSION_LABEL,
  versionName,
  versionObjects,
  WEIGHTS_ANNOTATION,
} from './manifests.ts';
import { streamLogs } from './pod-logs.ts';
import { waitForRollout } from './rollout-wait.ts';

export interface KubernetesProviderOptions {
  /** A kubeconfig file; default: KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** How long `deploy` waits for a rollout (default 5 min). */
  rolloutTimeoutMs?: number;
  /** Poll interval while waiting for rollouts (default 1 s). */
  pollMs?: number;
}

export { FATAL_WAITING_REASONS } from './rollout-wait.ts';

/** Deployment annotation: when platformctl applied the version (orders versions within a second). */
const DEPLOYED_AT = 'platformctl.dev/deployed-at';

export class KubernetesProvider implements Provider {
  readonly name = 'kubernetes' as const;
  readonly platform: LoadedPlatform;
  readonly environment: string;
  readonly target: KubeTarget;
  private readonly options: KubernetesProviderOptions;
  private readonly session: KubeSession;
  private faultSeq = 0;
  private namespaceApplied = false;

  constructor(platform: LoadedPlatform, environment: string, options: KubernetesProviderOptions = {}) {
    this.platform = platform;
    this.environment = environment;
    this.target = targetOf(platform.config, environment);
    this.options = options;
    this.session = new KubeSession({
      kubeconfig: options.kubeconfig,
      context: this.env?.kubeContext,
      environment,
      namespace: this.target.namespace,
    });
  }

  private get env() {
    return this.platform.config.environments[this.environment];
  }

  /** Server-side apply of one object (see KubeSession.apply for the field-manager policy). */
  async apply(obj: KubeObject, onEvent?: (e: ProviderEvent) => void): Promise<void> {
    await this.session.apply(obj, onEvent);
  }

  private spec(service: string): ServiceSpec {
    const spec = this.platform.config.services[service];
    if (!spec) {
      throw unknownServiceError(this.platform.config.services, service);
    }
    return spec;
  }

  // ------------------------------------------------------------------ reading the cluster

  private async deployments(service?: string): Promise<K8s.V1Deployment[]> {
    const labelSelector = service ? `${NAME_LABEL}=${service}` : 'app.kubernetes.io/managed-by=platformctl';
    const list = await this.session.call('list deployments', (c) =>
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
    const list = await this.session.call('list pods', (c) =>
      c.core.listNamespacedPod({ namespace: this.target.namespace, labelSelector }),
    );
    return list.items;
  }

  private async readTraffic(service: string): Promise<TrafficSpec | undefined> {
    const apiVersion =
      this.target.mesh === 'istio' ? 'networking.istio.io/v1' : 'gateway.networking.k8s.io/v1';
    const kind = this.target.mesh === 'istio' ? 'VirtualService' : 'HTTPRoute';
    return this.session.call(`read the ${kind} of ${service}`, async (c) => {
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
    const exists = await this.session.call(`read namespace ${name}`, async (c) => {
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
        await this.session.deleteObject(obj.apiVersion, obj.kind, obj.metadata.name);
      if (spec.kind === 'gateway')
        await this.session.deleteObject('v1', 'ConfigMap', gatewayRoutesName(name));
      opts.onEvent?.({ type: 'instance.stopped', instance: name, service: name });
    }
    await this.clearFaults();
  }

  private async deleteTraffic(service: string): Promise<void> {
    if (this.target.mesh === 'istio')
      await this.session.deleteObject('networking.istio.io/v1', 'VirtualService', service);
    else {
      await this.session.deleteObject('gateway.networking.k8s.io/v1', 'HTTPRoute', service);
      if (this.spec(service).kind === 'gateway')
        await this.session.deleteObject('gateway.networking.k8s.io/v1', 'GRPCRoute', service);
    }
  }

  private async removeVersion(service: string, spec: ServiceSpec, version: string): Promise<void> {
    const name = versionName(service, version);
    await this.session.deleteObject('apps/v1', 'Deployment', name);
    if (routed(spec)) await this.session.deleteObject('v1', 'Service', name);
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
    const links = serviceLinks(this.platform.config, service, (callee) => clusterUrl(this.target, callee));
    const objects = versionObjects(this.target, service, spec, release.version, replicas, links);
    const deployment = objects[0] as KubeObject;
    if (spec.kind === 'gateway') {
      // The routing file first: a gateway pod cannot start without its ConfigMap volume.
      await this.apply(gatewayRoutesConfigMap(this.platform.config, this.target, service), opts.onEvent);
      mountGatewayRoutes(deployment, service);
    }
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
      await waitForRollout(
        this.session,
        {
          environment: this.environment,
          registry: this.target.registry,
          timeoutMs: this.options.rolloutTimeoutMs ?? 300_000,
          pollMs: this.options.pollMs ?? 1000,
        },
        service,
        release.version,
        replicas,
        opts.onEvent,
      );
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
    const split = {
      weights,
      ...(traffic.header ? { header: traffic.header } : {}),
      ...(pinTo ? { pinTo } : {}),
    };
    for (const obj of trafficObjects(this.target, service, spec, split)) await this.apply(obj);
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
    await this.session.call(`scale ${name}`, (c) =>
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
    return streamLogs(this.session, selector, opts);
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
    await this.session.call(`delete pod ${instanceId}`, async (c) => {
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

  async injectFault(fault: FaultSpec): Promise<string> {
    const spec = this.spec(fault.service);
    if (!fault.delayMs && !fault.abortPct) throw new UsageError('a fault needs delayMs or abortPct');
    const obj = httpChaos(this.target, this.faultName('http'), fault, spec.port);
    await createChaos(this.session, obj);
    return obj.metadata.name;
  }

  async clearFaults(id?: string): Promise<void> {
    await clearChaos(this.session, id);
  }

  async partition(dependency: string, opts: { service?: string } = {}): Promise<FaultHandle> {
    if (opts.service) this.spec(opts.service);
    const obj = networkPartition(this.target, this.faultName('net'), dependency, opts.service);
    await createChaos(this.session, obj);
    return {
      id: obj.metadata.name,
      heal: () => deleteChaos(this.session, CHAOS_PLURALS.NetworkChaos, obj.metadata.name),
    };
  }
}

function time(t: Date | string | undefined): number {
  return t ? new Date(t).getTime() : 0;
}
