/**
 * The one interface the delivery, chaos, drill and load engines and the commands use to drive a
 * running platform, wherever it runs: `local` (supervised processes + the runtime gateway's admin
 * API) and `kubernetes` (a cluster's API, Gateway API or Istio, Chaos Mesh). Commands get theirs
 * from `openProvider` with `--env`, never by constructing one.
 *
 * Rules for implementers:
 * - Methods return data; they never print. Long operations report through `onEvent` callbacks.
 * - Errors are `PlatformError`s with stable codes (e.g. `NOT_RUNNING`, `UNKNOWN_SERVICE`,
 *   `UNKNOWN_INSTANCE`, `RELEASE_NOT_FOUND`, `NOT_SUPPORTED`).
 * - Traffic and faults are applied by the gateway locally and by the mesh on Kubernetes.
 */
import type { LoadedPlatform } from '../core/config/load.ts';
import type { ProviderName } from '../core/config/schema.ts';
import { PlatformError } from '../core/errors.ts';
import type { LocalProvider } from './local/local-provider.ts';
import type { VersionMetrics } from './metrics/source.ts';

/** Lifecycle of one supervised instance. */
export type InstanceState =
  | 'starting' // spawned, waiting for /readyz
  | 'ready' // serving: /readyz answered 200
  | 'unhealthy' // was ready, /readyz fails now
  | 'backoff' // crashed, waiting to be restarted
  | 'crash-loop' // crashed too often; no longer restarted
  | 'stopping'
  | 'stopped'
  | 'paused'; // the process exists but is stopped by a signal (SIGSTOP): it answers nothing

export interface InstanceStatus {
  /** Stable across restarts, e.g. `content-1` (stable version) or `content-v2-1` (a second version). */
  id: string;
  service: string;
  version: string;
  pid?: number;
  port: number;
  /** Base URL of the instance, e.g. http://127.0.0.1:8082 */
  url: string;
  state: InstanceState;
  restarts: number;
  /** ISO time the current process started. */
  startedAt?: string;
  lastExit?: { code: number | null; signal: string | null; at: string };
  /** Present in crash-loop: the last lines the instance logged. */
  lastLogLines?: string[];
  /** Local provider: the loaded process kept to take over when this one dies (standby.ts). */
  standbyPid?: number;
}

/** Gateway traffic split for one service. Weights are percentages per version summing to 100. */
export interface TrafficSpec {
  weights: Record<string, number>;
  /** A header `name: value` (e.g. `x-canary: always`) that pins a request to the newest version. */
  header?: string;
  cookie?: string;
}

export interface ServiceStatus {
  name: string;
  kind: 'gateway' | 'service' | 'worker';
  /** Versions with at least one instance, oldest first (the first is the stable one). */
  versions: string[];
  desiredReplicas: number;
  instances: InstanceStatus[];
  /** Every instance is ready. */
  healthy: boolean;
  traffic?: TrafficSpec;
  /** RED metrics from the gateway, when it is up (per service, all versions together). */
  metrics?: ServiceMetrics;
  /** Backends its instances cannot reach (they stay routed; what needs them answers 503). */
  dependenciesDown?: DependencyDown[];
}

/** A backend (`database`, `bus`, `blobs`) a service cannot reach, and since when. */
export interface DependencyDown {
  dependency: string;
  /** ISO time it went down. */
  since: string;
  error?: string;
}

export interface ServiceMetrics {
  windowMs: number;
  /** Requests per second over the window. */
  rps: number;
  requests: number;
  errors: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface PlatformStatus {
  provider: ProviderName;
  /** A supervisor (locally) or the cluster is running the platform. */
  running: boolean;
  gatewayUrl?: string;
  /** Where the gateway serves `/metrics` and `/admin/*` (locally a listener of its own). */
  gatewayAdminUrl?: string;
  supervisor?: { pid: number; startedAt: string; detached: boolean };
  services: ServiceStatus[];
  /** Whether the gateway answered for metrics; when false, `metrics` fields are absent. */
  metricsAvailable: boolean;
}

/** A release to run: one built by `platformctl release build` (see providers/local/releases.ts). */
export interface ReleaseRef {
  service: string;
  version: string;
}

export interface UpOptions {
  /** Only these services (plus their dependencies); all when empty. */
  services?: string[];
  /** Replicas per service, overriding platform.yaml. */
  replicas?: Record<string, number>;
  /** Locally: leave a supervisor daemon running and return once everything is ready. */
  detach?: boolean;
  onEvent?: (event: ProviderEvent) => void;
}

export interface DownOptions {
  /** Also delete data (databases, blobs, bus). Callers confirm first. */
  purge?: boolean;
  onEvent?: (event: ProviderEvent) => void;
}

export interface DeployOptions {
  replicas?: number;
  /**
   * Traffic for the new version right after it is ready. Default: 0 when another version of the
   * service is running (a canary starts dark), 100 when it is the only one.
   */
  initialWeight?: number;
  onEvent?: (event: ProviderEvent) => void;
}

export interface LogQuery {
  /** Keep streaming new lines until `signal` aborts. */
  follow?: boolean;
  /** Only lines newer than this many milliseconds. */
  sinceMs?: number;
  /** Minimum level: trace, debug, info, warn, error, fatal. */
  level?: string;
  requestId?: string;
  instance?: string;
  /** Last N lines per instance (before following). */
  tail?: number;
  signal?: AbortSignal;
}

export interface LogEntry {
  service: string;
  instance: string;
  /** Epoch milliseconds. */
  time: number;
  level: string;
  msg: string;
  reqId?: string;
  /** The parsed JSON line (or `{ msg: line }` for lines that were not JSON). */
  fields: Record<string, unknown>;
}

/** A fault the gateway (or mesh) injects into requests to a service. */
export interface FaultSpec {
  service: string;
  version?: string;
  route?: string;
  delayMs?: number;
  /** Percentage of requests aborted with `abortStatus` (default 503). */
  abortPct?: number;
  abortStatus?: number;
  /** Lease: the provider removes the fault by itself this long after injection (or the last renewal). */
  ttlMs?: number;
}

/** Something that can be undone: a network partition, a paused process. */
export interface FaultHandle {
  id: string;
  heal(): Promise<void>;
}

/** Progress of long operations, for commands to render. */
export type ProviderEvent =
  | { type: 'release.building'; service: string; version: string }
  | { type: 'release.built'; service: string; version: string }
  | {
      type: 'instance.starting';
      instance: string;
      service: string;
      version: string;
      port: number;
      /** The process was the instance's standby, started now instead of a new one. */
      fromStandby?: boolean;
    }
  | { type: 'instance.standby'; instance: string; service: string; pid: number }
  | {
      type: 'instance.standby-exited';
      instance: string;
      service: string;
      code: number | null;
      signal: string | null;
    }
  | { type: 'instance.ready'; instance: string; service: string; ms: number }
  | { type: 'instance.exited'; instance: string; service: string; code: number | null; signal: string | null }
  | { type: 'instance.restarting'; instance: string; service: string; delayMs: number; restarts: number }
  | { type: 'instance.crash-loop'; instance: string; service: string; lastLogLines: string[] }
  | { type: 'instance.stopped'; instance: string; service: string }
  | { type: 'log'; instance: string; service: string; line: string }
  | { type: 'info'; message: string };

export interface Provider {
  readonly name: ProviderName;

  /** Starts the platform (idempotent: services already running are left alone). */
  up(opts?: UpOptions): Promise<PlatformStatus>;
  /** Stops everything; no process or port is left behind. */
  down(opts?: DownOptions): Promise<void>;
  status(): Promise<PlatformStatus>;
  /** Log lines of one service, or of every service when `service` is `all`. */
  logs(service: string, opts?: LogQuery): AsyncIterable<LogEntry>;
  /** Sets the number of instances of a service's version (default: its stable version). */
  scale(service: string, replicas: number, opts?: { version?: string }): Promise<ServiceStatus>;

  /** Runs a release beside the running versions and waits for it to be ready. */
  deploy(service: string, release: ReleaseRef, opts?: DeployOptions): Promise<ServiceStatus>;
  /** Stops every instance of a version (after a promotion or a rollback) and drops it from traffic. */
  retire(service: string, version: string): Promise<ServiceStatus>;
  setTraffic(service: string, traffic: TrafficSpec): Promise<void>;
  /** RED metrics of one version over the last `windowMs` (`undefined` fields: no data). */
  metrics(service: string, version: string, windowMs: number): Promise<VersionMetrics>;

  /** Chaos: SIGKILL one instance (the supervisor restarts it per its policy). */
  kill(instanceId: string): Promise<void>;
  /** Chaos: injects a fault; returns its id for `clearFaults(id)`. */
  injectFault(fault: FaultSpec): Promise<string>;
  /** Removes one fault, or every fault when `id` is omitted. */
  clearFaults(id?: string): Promise<void>;
  /** Renews a fault's lease for another `ttlMs`; absent when leases cannot be renewed (set a long ttl). */
  renewFault?(id: string, ttlMs: number): Promise<void>;
  /**
   * Chaos: cuts the platform off from a dependency (e.g. `bus`, `db`, `auth`). Implementations that
   * cannot do it yet throw `NOT_SUPPORTED`.
   */
  partition(dependency: string, opts?: { service?: string }): Promise<FaultHandle>;
}

/** The error every not-yet-implemented capability throws, so callers can skip it cleanly. */
export function notSupported(provider: ProviderName, what: string): PlatformError {
  return new PlatformError('NOT_SUPPORTED', `the ${provider} provider does not support ${what} yet`, {
    hint: 'use a fault the provider supports (kill, injectFault) or another provider',
  });
}

/**
 * The error of a command (or flag) that needs something the environment's provider does not offer,
 * e.g. `traces` (the local span store) on Kubernetes. A usage error (exit 2): another environment
 * or another command does it.
 */
export function unsupportedByProvider(provider: ProviderName, what: string, instead?: string): PlatformError {
  return new PlatformError('PROVIDER_UNSUPPORTED', `${what} is not available on the ${provider} provider`, {
    hint: instead ?? 'run it against an environment of the local provider (--env <local environment>)',
  });
}

/** The local provider behind `provider`, for commands that only exist locally; else PROVIDER_UNSUPPORTED. */
export function requireLocal(provider: Provider, what: string, instead?: string): LocalProvider {
  if (provider.name !== 'local') throw unsupportedByProvider(provider.name, what, instead);
  return provider as LocalProvider;
}

/** For commands that change the platform: what they change, and whether --allow-prod was given. */
export interface ChangeGuard {
  /** E.g. `scale services`, completing "pass --allow-prod to … there". */
  change: string;
  allowProd?: boolean;
}

/**
 * The environment a command runs against: `environment` (`--env`), else the first local one, else
 * the first declared.
 */
export function selectEnvironment(
  platform: LoadedPlatform,
  environment?: string,
): { name: string; env: LoadedPlatform['config']['environments'][string] } {
  const envs = platform.config.environments;
  const name =
    environment ?? Object.entries(envs).find(([, e]) => e.provider === 'local')?.[0] ?? Object.keys(envs)[0];
  const env = name ? envs[name] : undefined;
  if (!name || !env) {
    throw new PlatformError('UNKNOWN_ENVIRONMENT', `no environment "${environment}" in platform.yaml`, {
      hint: `use one of: ${Object.keys(envs).join(', ')}`,
    });
  }
  return { name, env };
}

/**
 * The provider of an environment of platform.yaml (default: the first environment using the local
 * provider, else `dev`). Implementations load lazily so commands only pay for the one they use. With
 * a `guard`, a protected environment is refused unless `--allow-prod` was given.
 */
export async function openProvider(
  platform: LoadedPlatform,
  environment?: string,
  guard?: ChangeGuard,
): Promise<Provider> {
  const { name, env } = selectEnvironment(platform, environment);
  if (guard && env.protected && !guard.allowProd) {
    throw new PlatformError('PROTECTED_ENVIRONMENT', `environment "${name}" is protected`, {
      hint: `pass --allow-prod to ${guard.change} there (--yes does not unlock it)`,
    });
  }
  if (env.provider === 'local') {
    const { LocalProvider } = await import('./local/local-provider.ts');
    return new LocalProvider(platform);
  }
  if (env.provider === 'kubernetes') {
    const { KubernetesProvider } = await import('./kubernetes/kubernetes-provider.ts');
    return new KubernetesProvider(platform, name);
  }
  throw notSupported(env.provider, `environment "${name}" from this command`);
}
