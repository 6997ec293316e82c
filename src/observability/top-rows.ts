/** The rows of `platformctl top`: one per running version of each service, with its RED figures. */
import type { StatsReport } from '../../runtime/contract/gateway-admin.ts';
import type { PlatformStatus } from '../providers/provider.ts';

export interface TopRow {
  service: string;
  version: string;
  instances: number;
  weight: number | undefined;
  rps: number;
  requests: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * Rows for the versions that run now. A version retired inside the window still has requests in
 * the gateway's window, but it is not something an operator can act on any more, so it is left
 * out (`status` and `canary status` tell what happened to it).
 */
export function topRows(st: PlatformStatus, stats: StatsReport): TopRow[] {
  const rows: TopRow[] = [];
  for (const svc of st.services) {
    const measured = stats.services[svc.name]?.versions ?? {};
    for (const version of svc.versions) {
      const m = measured[version];
      // The gateway routes; it is not itself a routed service with its own RED row.
      if (svc.kind === 'gateway' && !m) continue;
      rows.push({
        service: svc.name,
        version,
        instances: svc.instances.filter((i) => i.version === version && i.state === 'ready').length,
        weight: svc.traffic?.weights[version],
        rps: m?.rps ?? 0,
        requests: m?.requests ?? 0,
        errorRate: m?.errorRate ?? 0,
        p50: m?.p50 ?? 0,
        p95: m?.p95 ?? 0,
        p99: m?.p99 ?? 0,
      });
    }
  }
  return rows;
}
