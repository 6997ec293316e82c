/**
 * What `status` shows of a local platform: `.platform/state.json` reconciled with the live
 * processes, plus the gateway's traffic statistics and the services' unreachable backends when the
 * platform runs. Apart from the provider (local-provider.ts) because `status` of a stopped
 * platform, the everyday command, needs only the state reader: the provider brings the supervisor
 * client, releases, ports and logs with it.
 */
import type { StatsReport, WindowStats } from '../../../runtime/contract/gateway-admin.ts';
import type { LoadedPlatform } from '../../core/config/load.ts';
import { isPaused } from '../../core/process-alive.ts';
import { statePaths } from '../../core/state-dir.ts';
import type { PlatformStatus, ServiceMetrics, ServiceStatus } from '../provider.ts';
import { gatewayAdminUrl } from './edge-defaults.ts';
import { readState, reconcile, removeState, writeState } from './state.ts';

/** The window of the traffic statistics `status` shows. */
export const STATS_WINDOW_MS = 10_000;

/** A routed service the gateway has not seen a request for yet. */
const NO_TRAFFIC: WindowStats = {
  requests: 0,
  errors: 0,
  errorRate: 0,
  rps: 0,
  p50: 0,
  p95: 0,
  p99: 0,
  max: 0,
};

/** The state reconciled with reality; a dead supervisor's leftovers are written back as cleaned. */
export function currentState(root: string): ReturnType<typeof reconcile> {
  const file = statePaths(root).state;
  const r = reconcile(readState(file));
  if (r.changed && !r.running) {
    if (r.state.instances.length === 0 && Object.keys(r.state.services).length === 0) removeState(file);
    else writeState(file, r.state);
  }
  return r;
}

/** The admin token of the platform at `root` (the gateway's admin API needs it). */
export async function localAdminToken(root: string): Promise<string> {
  const { adminToken } = await import('./admin-token.ts');
  return adminToken(statePaths(root).dir);
}

/** The status of every service of the local platform: declared in platform.yaml or running. */
export async function localStatus(platform: LoadedPlatform): Promise<PlatformStatus> {
  const { state, running } = currentState(platform.root);
  const services: ServiceStatus[] = [];
  const names = [...Object.keys(platform.config.services), ...Object.keys(state.services)];
  let stats: StatsReport | undefined;
  if (running && state.gatewayUrl) {
    try {
      const { GatewayAdmin } = await import('./gateway-client.ts');
      stats = await new GatewayAdmin(
        gatewayAdminUrl(state.gatewayUrl),
        await localAdminToken(platform.root),
        1500,
      ).stats(STATS_WINDOW_MS);
    } catch {
      stats = undefined;
    }
  }
  const { downDependencies } = running
    ? await import('./dependency-probe.ts')
    : { downDependencies: undefined };
  for (const name of new Set(names)) {
    const rec = state.services[name];
    const spec = platform.config.services[name];
    const instances = state.instances
      .filter((i) => i.service === name)
      .map(({ entry: _e, logFile: _l, everReady: _r, ...i }) =>
        // A SIGSTOPped process fails its health checks, but "unhealthy" would send the on-call
        // looking at its code: it is paused, and SIGCONT (or a restart) brings it back.
        i.pid && isPaused(i.pid) ? { ...i, state: 'paused' as const } : i,
      );
    const dependenciesDown = downDependencies ? await downDependencies(instances) : [];
    const measured = stats?.services[name]?.total;
    let metrics: ServiceMetrics | undefined;
    // With the gateway answering, a routed service without traffic has zero metrics, not none.
    if (stats && (measured || (rec && spec?.kind !== 'gateway'))) {
      const { max: _max, ...c } = measured ?? NO_TRAFFIC;
      metrics = { windowMs: stats.windowMs, ...c };
    }
    services.push({
      name,
      kind: rec?.kind ?? spec?.kind ?? 'service',
      versions: rec?.versions ?? [],
      desiredReplicas: rec ? Object.values(rec.replicas).reduce((s, n) => s + n, 0) : 0,
      instances,
      healthy: instances.length > 0 && instances.every((i) => i.state === 'ready'),
      ...(rec?.traffic ? { traffic: rec.traffic } : {}),
      ...(metrics ? { metrics } : {}),
      ...(dependenciesDown.length > 0 ? { dependenciesDown } : {}),
    });
  }
  return {
    provider: 'local',
    running,
    ...(running && state.gatewayUrl
      ? { gatewayUrl: state.gatewayUrl, gatewayAdminUrl: gatewayAdminUrl(state.gatewayUrl) }
      : {}),
    ...(running && state.supervisor
      ? {
          supervisor: {
            pid: state.supervisor.pid,
            startedAt: state.supervisor.startedAt,
            detached: state.supervisor.detached,
          },
        }
      : {}),
    services,
    metricsAvailable: stats !== undefined,
  };
}
