/** The rows of `platformctl top`: one per running version of each service, with its RED figures. */
import type { StatsReport } from '../../runtime/contract/gateway-admin.ts';
import type { PlatformStatus } from '../providers/provider.ts';

/** The gateway's version label for requests no instance served. */
const NO_UPSTREAM_VERSION = 'none';
/** How `top` shows them. */
export const NO_UPSTREAM_LABEL = '(no upstream)';

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
    // Requests that found no instance at all are recorded by the gateway as version "none";
    // without this row an outage read 0% errors while every client got a 503.
    const unserved = measured[NO_UPSTREAM_VERSION];
    if (unserved && unserved.requests > 0) {
      rows.push({
        service: svc.name,
        version: NO_UPSTREAM_LABEL,
        instances: 0,
        weight: undefined,
        rps: unserved.rps,
        requests: unserved.requests,
        errorRate: unserved.errorRate,
        p50: unserved.p50,
        p95: unserved.p95,
        p99: unserved.p99,
      });
    }
  }
  return rows;
}
