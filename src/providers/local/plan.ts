/** From platform.yaml and the releases to the plan a supervisor runs. */

import type { LoadedPlatform } from '../../core/config/load.ts';
import { serviceEnv } from '../../core/config/service-env.ts';
import { UsageError, unknownServiceError } from '../../core/errors.ts';
import { backendEnv, localEnvironment } from '../../data/backend-env.ts';
import { secretsEnvFor } from '../../secrets/inject.ts';
import type { ProviderEvent } from '../provider.ts';
import { GATEWAY_UP_DEFAULTS, routeBodyLimit } from './edge-defaults.ts';
import { buildRelease, readRelease } from './releases.ts';
import type { Plan, ServicePlan } from './service-plan.ts';
import { startOrder, withDependencies } from './topology.ts';

export interface PlanOptions {
  services?: string[];
  replicas?: Record<string, number>;
  /** Services already running (service → release): kept as they are, not rebuilt. */
  running?: Record<string, { version: string; entry: string }>;
  onEvent?: (e: ProviderEvent) => void;
  /** Work out versions without writing releases. */
  dryRun?: boolean;
  /** service → the release its last rollout left running (pinned-releases.ts), started instead of the sources. */
  pinned?: Record<string, string>;
}

/**
 * The plan for `up`: every configured service in start order, the ones to run (those asked for
 * plus their dependencies; all when none are named), and a release for each one to run (built
 * from the current sources; an unchanged source reuses its release). Services already running
 * keep their release: a second `up` changes nothing (new versions go out with `deploy`).
 */
export async function makePlan(platform: LoadedPlatform, opts: PlanOptions = {}): Promise<Plan> {
  const specs = platform.config.services;
  const deps = Object.fromEntries(Object.entries(specs).map(([n, s]) => [n, s.dependsOn]));
  for (const name of [...(opts.services ?? []), ...Object.keys(opts.replicas ?? {})]) {
    if (!(name in specs)) throw unknownServiceError(specs, name);
  }
  for (const [name, n] of Object.entries(opts.replicas ?? {})) {
    if (!Number.isInteger(n) || n < 1 || n > 32)
      throw new UsageError(`replicas of ${name} must be 1–32 (got ${n})`);
  }
  const environment = localEnvironment(platform.config);
  const order = startOrder(deps);
  const run = opts.services && opts.services.length > 0 ? withDependencies(deps, opts.services) : order;
  const services: ServicePlan[] = [];
  for (const name of order) {
    const s = specs[name];
    if (!s) continue;
    let version = '';
    let entry = '';
    const current = opts.running?.[name];
    if (current) {
      version = current.version;
      entry = current.entry;
    } else if (
      run.includes(name) &&
      opts.pinned?.[name] &&
      readRelease(platform.root, name, opts.pinned[name])
    ) {
      const release = readRelease(platform.root, name, opts.pinned[name]) as NonNullable<
        ReturnType<typeof readRelease>
      >;
      version = release.version;
      entry = release.entryPath;
      opts.onEvent?.({
        type: 'info',
        message: `${name}: starting ${version}, the release its last rollout left running (\`up --from-source\` builds the current sources instead)`,
      });
    } else if (run.includes(name)) {
      const { release, built } = await buildRelease(platform, name, { reuse: true, dryRun: opts.dryRun });
      if (built && !opts.dryRun)
        opts.onEvent?.({ type: 'release.built', service: name, version: release.version });
      version = release.version;
      entry = release.entryPath;
    }
    services.push({
      name,
      kind: s.kind,
      version,
      entry,
      replicas: opts.replicas?.[name] ?? s.replicas,
      basePort: s.port,
      routes: s.routes,
      maxBodyBytes: routeBodyLimit(s),
      dependsOn: s.dependsOn,
      readiness: s.health.readiness,
      // platform.yaml's backends (postgres, rabbitmq, s3) for this environment, then the secrets
      // stored for the service (`platformctl secrets set <service>.<VAR>`); the service's own env wins.
      // The plan lives only in memory and on the supervisor's authenticated control API.
      env: {
        ...(s.kind === 'gateway' && s.path === 'builtin:gateway' ? GATEWAY_UP_DEFAULTS : {}),
        ...(environment ? backendEnvOf(platform, name, environment) : {}),
        ...(environment ? secretsEnvFor(platform.root, environment.name, name) : {}),
        ...serviceEnv(s),
      },
    });
  }
  return { services, run };
}

/** Backend env for one service: values from the process environment, else the environment's secrets. */
function backendEnvOf(
  platform: LoadedPlatform,
  service: string,
  environment: NonNullable<ReturnType<typeof localEnvironment>>,
): Record<string, string> {
  const { backends } = environment;
  if (backends.database === 'sqlite' && backends.bus === 'embedded' && backends.blobs === 'file') return {};
  const source = { ...secretsEnvFor(platform.root, environment.name, service), ...process.env };
  return backendEnv(platform.root, platform.config, service, backends, source);
}
