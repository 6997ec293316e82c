/**
 * The Kubernetes objects of a platform, generated from platform.yaml as plain objects: one
 * Deployment and one Service per running version (`<service>-<version>`), a stable Service per
 * service, and the traffic split (Gateway API HTTPRoute by default, or an Istio VirtualService with
 * retries/timeouts plus a DestinationRule and a STRICT mTLS PeerAuthentication). The provider
 * applies them with server-side apply; `gitops render` writes the same objects to files, so what
 * Argo CD syncs and what `deploy` applies never drift apart.
 */
import type { RuntimeEnv, RuntimeEnvName } from '../../../runtime/contract/runtime-env.ts';
import type { PlatformConfig, ServiceSpec } from '../../core/config/schema.ts';
import { serviceEnv } from '../../core/config/service-env.ts';

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
} & Record<string, unknown>;

export type Mesh = 'gateway-api' | 'istio';

export interface KubeTarget {
  platform: string;
  namespace: string;
  /** Image registry, e.g. `ghcr.io/acme`; images are `<registry>/<service>:<version>`. */
  registry: string;
  mesh: Mesh;
  /** The Gateway API Gateway the HTTPRoutes attach to. */
  gateway: string;
}

export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'platformctl' } as const;
export const NAME_LABEL = 'app.kubernetes.io/name';
export const VERSION_LABEL = 'platformctl.dev/version';
export const FIELD_MANAGER = 'platformctl';
/** Where an HTTPRoute or VirtualService keeps the version each backend stands for. */
export const WEIGHTS_ANNOTATION = 'platformctl.dev/weights';

/** The target of an environment of platform.yaml. */
export function targetOf(config: PlatformConfig, environment: string): KubeTarget {
  const env = config.environments[environment];
  return {
    platform: config.name,
    namespace: env?.namespace ?? `${config.name}-${environment}`,
    registry: (env?.registry ?? `ghcr.io/${config.name}`).replace(/\/$/, ''),
    mesh: env?.mesh ?? 'gateway-api',
    gateway: `${config.name}-gateway`,
  };
}

/**
 * The one registry a service's CI pushes to: the registry every Kubernetes environment pulls from
 * (`ghcr.io/<platform>` unless platform.yaml says otherwise). `undefined` when the environments
 * name different registries, since one pushed image could not serve them all.
 */
export function pushRegistry(config: PlatformConfig): string | undefined {
  const kube = Object.entries(config.environments).filter(([, e]) => e.provider === 'kubernetes');
  // With no Kubernetes environment, the default every future one would get.
  const names = kube.length ? kube.map(([name]) => name) : [''];
  const registries = new Set(names.map((name) => targetOf(config, name).registry));
  return registries.size === 1 ? [...registries][0] : undefined;
}

/** A version as a DNS-1035 label fragment (Service names may not contain dots or capitals). */
export function versionSlug(version: string): string {
  return (
    version
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 20) || 'v'
  );
}

export function versionName(service: string, version: string): string {
  return `${service}-${versionSlug(version)}`.slice(0, 63).replace(/-+$/, '');
}

/** The ConfigMap holding a service's managed-backend URLs (gitops/backends-overlay.ts writes it). */
export function backendsConfigName(service: string): string {
  return `${service}-backends`;
}

export function imageOf(target: KubeTarget, service: string, version: string): string {
  return `${target.registry}/${service}:${version}`;
}

export function serviceLabels(target: KubeTarget, service: string): Record<string, string> {
  return { [NAME_LABEL]: service, 'app.kubernetes.io/part-of': target.platform, ...MANAGED_BY };
}

function versionLabels(target: KubeTarget, service: string, version: string): Record<string, string> {
  return { ...serviceLabels(target, service), [VERSION_LABEL]: version };
}

/** The Service port REST and gRPC share (the pod's one port, protocol sniffed by the runtime). */
export const SERVICE_PORT = 80;
/** The same pod port declared as HTTP/2 prior knowledge, for the GRPCRoute's backends. */
export const GRPC_SERVICE_PORT = 81;
/** KEP-3726 / GEP-1911: the backend speaks HTTP/2 over cleartext with prior knowledge. */
export const H2C_APP_PROTOCOL = 'kubernetes.io/h2c';

/**
 * A Service's ports. The shared port declares no protocol: its connections are HTTP/1.1 (REST) and
 * h2c (gRPC), and every value a mesh or a Gateway reads would force one of them on the other. A port
 * named `http` is "plaintext HTTP/1.1" to Istio's sidecars (gRPC calls through it would be
 * downgraded and fail), and `kubernetes.io/h2c` would make the data plane send REST over HTTP/2,
 * which the runtime hands to its gRPC server. Named `web` (no protocol prefix) and without
 * `appProtocol`, Istio detects each connection's protocol and keeps it upstream. The second port
 * reaches the same pod port but is declared h2c, the combination Gateway API conformance-tests for
 * GRPCRoute backends, so external gRPC is proxied as HTTP/2 whatever the implementation's default.
 */
export function servicePorts(): Record<string, unknown>[] {
  return [
    { name: 'web', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' },
    {
      name: 'grpc',
      port: GRPC_SERVICE_PORT,
      targetPort: 'http',
      protocol: 'TCP',
      appProtocol: H2C_APP_PROTOCOL,
    },
  ];
}

/** Where other pods reach a service: its stable Service's cluster DNS name (REST and gRPC). */
export function clusterUrl(target: KubeTarget, service: string): string {
  return `http://${service}.${target.namespace}.svc.cluster.local`;
}

/** The stable in-cluster name of a service (every version behind it) and its account. */
export function baseObjects(target: KubeTarget, service: string, spec: ServiceSpec): KubeObject[] {
  const metadata = { name: service, namespace: target.namespace, labels: serviceLabels(target, service) };
  const out: KubeObject[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata, automountServiceAccountToken: false },
  ];
  if (spec.kind !== 'worker') {
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata,
      spec: {
        selector: { [NAME_LABEL]: service },
        ports: servicePorts(),
      },
    });
  }
  return out;
}

/**
 * One version of a service: its Deployment and (for HTTP services) its own backend Service.
 * `links` are the `<NAME>_URL` variables of the services it calls (call-graph.ts serviceLinks).
 */
export function versionObjects(
  target: KubeTarget,
  service: string,
  spec: ServiceSpec,
  version: string,
  replicas: number,
  links: Record<string, string> = {},
): KubeObject[] {
  const name = versionName(service, version);
  const labels = versionLabels(target, service, version);
  const selector = { [NAME_LABEL]: service, [VERSION_LABEL]: version };
  const runtime: RuntimeEnv = {
    PORT: String(spec.port),
    HOST: '0.0.0.0',
    SERVICE_NAME: service,
    SERVICE_VERSION: version,
  };
  const env = [
    ...Object.entries(serviceEnv(spec)).map(([k, v]) => ({ name: k, value: v })),
    ...Object.entries(runtime).map(([name, value]) => ({ name, value })),
    ...Object.entries(links).map(([name, value]) => ({ name, value })),
    { name: 'INSTANCE_ID' satisfies RuntimeEnvName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'DATA_DIR' satisfies RuntimeEnvName, value: '/data' },
  ];
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds,
    failureThreshold: 3,
  });
  const deployment: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: target.namespace, labels },
    spec: {
      replicas,
      revisionHistoryLimit: 3,
      progressDeadlineSeconds: 600,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels,
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(spec.port) },
        },
        spec: {
          serviceAccountName: service,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: service,
              image: imageOf(target, service, version),
              ports: [{ name: 'http', containerPort: spec.port, protocol: 'TCP' }],
              env,
              // The managed backends' settings and passwords, under the names `gitops render` and
              // `secrets render-external` give them: a version deployed here reads the same
              // objects. Optional, so a service that needs none starts; one that needs a backend
              // and finds no URL stops at start (runtime/lib/config.ts) instead of running embedded.
              envFrom: [
                { configMapRef: { name: backendsConfigName(service), optional: true } },
                { secretRef: { name: `${service}-secrets`, optional: true } },
              ],
              readinessProbe: probe(spec.health.readiness, 5),
              livenessProbe: probe(spec.health.liveness, 10),
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'data', mountPath: '/data' },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'data', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
  if (spec.kind === 'worker') return [deployment];
  const svc: KubeObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: target.namespace, labels },
    spec: { selector, ports: servicePorts() },
  };
  return [deployment, svc];
}

export interface Split {
  /** Percent per version; versions with 0 stay listed so a rollback is one patch. */
  weights: Record<string, number>;
  /** `name: value` pinning a request to `pinTo` (a canary's preview header). */
  header?: string;
  pinTo?: string;
}

function parseHeader(header: string | undefined): { name: string; value: string } | undefined {
  if (!header) return undefined;
  const i = header.indexOf(':');
  if (i <= 0) return undefined;
  return { name: header.slice(0, i).trim().toLowerCase(), value: header.slice(i + 1).trim() };
}

/**
 * Where a service's traffic split sits. Only the platform's gateway is exposed at the cluster's
 * Gateway (north-south); every other service splits in-mesh traffic addressed to its own Service
 * (Gateway API GAMMA: an HTTPRoute whose parent is the Service), so requests still pass the runtime
 * gateway's JWT check and a canary of `content` sees exactly the calls `content` gets.
 */
function edge(spec: ServiceSpec): boolean {
  return spec.kind === 'gateway';
}

/** Path prefixes matched: the gateway's routes (or `/`); everything sent to an internal Service. */
function prefixes(spec: ServiceSpec): string[] {
  return edge(spec) && spec.routes.length ? spec.routes : ['/'];
}

/** Gateway API HTTPRoute: one weighted backendRef per version Service. */
export function httpRoute(
  target: KubeTarget,
  service: string,
  spec: ServiceSpec,
  split: Split,
  nameOf: (service: string, version: string) => string = versionName,
): KubeObject {
  const backends = Object.entries(split.weights).map(([version, weight]) => ({
    name: nameOf(service, version),
    port: 80,
    weight,
  }));
  const pin = parseHeader(split.header);
  const rules: Record<string, unknown>[] = [];
  if (pin && split.pinTo) {
    rules.push({
      matches: prefixes(spec).map((p) => ({
        path: { type: 'PathPrefix', value: p },
        headers: [{ type: 'Exact', name: pin.name, value: pin.value }],
      })),
      backendRefs: [{ name: nameOf(service, split.pinTo), port: 80, weight: 1 }],
    });
  }
  rules.push({
    matches: prefixes(spec).map((p) => ({ path: { type: 'PathPrefix', value: p } })),
    backendRefs: backends,
  });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: service,
      namespace: target.namespace,
      labels: serviceLabels(target, service),
      annotations: { [WEIGHTS_ANNOTATION]: JSON.stringify(split.weights) },
    },
    spec: {
      parentRefs: edge(spec)
        ? [{ name: target.gateway }]
        : [{ group: '', kind: 'Service', name: service, port: 80 }],
      rules,
    },
  };
}

/**
 * Gateway API GRPCRoute beside the platform gateway's HTTPRoute, so gRPC from outside the cluster
 * reaches the runtime gateway (which routes `/platform.<service>.v<N>.<Service>/<Method>` itself,
 * reflection included): every gRPC method, to the version Services' h2c port, with the HTTPRoute's
 * weights and its preview-header pin, so a canary of the gateway takes the same share of gRPC as of
 * REST. Internal services get none: their gRPC callers come through the runtime gateway or the mesh.
 */
export function grpcRoute(
  target: KubeTarget,
  service: string,
  split: Split,
  nameOf: (service: string, version: string) => string = versionName,
): KubeObject {
  const backendRefs = Object.entries(split.weights).map(([version, weight]) => ({
    name: nameOf(service, version),
    port: GRPC_SERVICE_PORT,
    weight,
  }));
  const pin = parseHeader(split.header);
  const rules: Record<string, unknown>[] = [];
  if (pin && split.pinTo) {
    rules.push({
      matches: [{ headers: [{ type: 'Exact', name: pin.name, value: pin.value }] }],
      backendRefs: [{ name: nameOf(service, split.pinTo), port: GRPC_SERVICE_PORT, weight: 1 }],
    });
  }
  rules.push({ backendRefs });
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GRPCRoute',
    metadata: {
      name: service,
      namespace: target.namespace,
      labels: serviceLabels(target, service),
      annotations: { [WEIGHTS_ANNOTATION]: JSON.stringify(split.weights) },
    },
    spec: { parentRefs: [{ name: target.gateway }], rules },
  };
}

/** Istio: weighted routes to the version Services, with retries and a timeout on every route. */
export function virtualService(
  target: KubeTarget,
  service: string,
  spec: ServiceSpec,
  split: Split,
  nameOf: (service: string, version: string) => string = versionName,
): KubeObject {
  const host = (version: string) => `${nameOf(service, version)}.${target.namespace}.svc.cluster.local`;
  const resilience = {
    timeout: '10s',
    retries: { attempts: 3, perTryTimeout: '3s', retryOn: 'connect-failure,refused-stream,unavailable,5xx' },
  };
  const pin = parseHeader(split.header);
  const http: Record<string, unknown>[] = [];
  if (pin && split.pinTo) {
    http.push({
      name: 'preview',
      match: prefixes(spec).map((p) => ({
        uri: { prefix: p },
        headers: { [pin.name]: { exact: pin.value } },
      })),
      route: [{ destination: { host: host(split.pinTo), port: { number: 80 } }, weight: 100 }],
      ...resilience,
    });
  }
  http.push({
    name: 'split',
    match: prefixes(spec).map((p) => ({ uri: { prefix: p } })),
    route: Object.entries(split.weights).map(([version, weight]) => ({
      destination: { host: host(version), port: { number: 80 } },
      weight,
    })),
    ...resilience,
  });
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: {
      name: service,
      namespace: target.namespace,
      labels: serviceLabels(target, service),
      annotations: { [WEIGHTS_ANNOTATION]: JSON.stringify(split.weights) },
    },
    spec: {
      hosts: [service, `${service}.${target.namespace}.svc.cluster.local`],
      gateways: edge(spec) ? ['mesh', target.gateway] : ['mesh'],
      http,
    },
  };
}

/** Istio: sidecars talk mutual TLS to every service of the namespace, and eject failing pods. */
export function destinationRule(target: KubeTarget): KubeObject {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: `${target.platform}-mtls`, namespace: target.namespace, labels: { ...MANAGED_BY } },
    spec: {
      host: `*.${target.namespace}.svc.cluster.local`,
      trafficPolicy: {
        tls: { mode: 'ISTIO_MUTUAL' },
        outlierDetection: { consecutive5xxErrors: 5, interval: '10s', baseEjectionTime: '30s' },
      },
    },
  };
}

/** Objects the whole namespace shares: with Istio, STRICT mTLS and its client-side policy. */
export function namespaceObjects(target: KubeTarget): KubeObject[] {
  return target.mesh === 'istio' ? [peerAuthentication(target), destinationRule(target)] : [];
}

/** Istio: plaintext is refused namespace-wide (STRICT mTLS). */
export function peerAuthentication(target: KubeTarget): KubeObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'PeerAuthentication',
    metadata: { name: 'default', namespace: target.namespace, labels: { ...MANAGED_BY } },
    spec: { mtls: { mode: 'STRICT' } },
  };
}

/**
 * The traffic objects of a service for the target's mesh: its HTTPRoute (plus, for the platform
 * gateway, its GRPCRoute) or its VirtualService, whose HTTP routes carry gRPC too. The first is the
 * one whose weights annotation the provider reads back.
 */
export function trafficObjects(
  target: KubeTarget,
  service: string,
  spec: ServiceSpec,
  split: Split,
  nameOf: (service: string, version: string) => string = versionName,
): KubeObject[] {
  if (target.mesh === 'istio') return [virtualService(target, service, spec, split, nameOf)];
  const http = httpRoute(target, service, spec, split, nameOf);
  return edge(spec) ? [http, grpcRoute(target, service, split, nameOf)] : [http];
}

/** Whether a service takes HTTP traffic through the mesh (workers do not). */
export function routed(spec: ServiceSpec): boolean {
  return spec.kind !== 'worker';
}
