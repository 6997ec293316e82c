/**
 * The local state directory, `.platform/` beside platform.yaml, as both sides use it: platformctl
 * creates it and points the runtime into it (DATA_DIR, BUS_URL, TRACES_DIR, GATEWAY_CONFIG); the
 * runtime writes there (span files) and platformctl reads back (`traces`, `logs`).
 */
import { join } from 'node:path';

export const STATE_DIR = '.platform';

/** Paths inside `.platform/` for a project rooted at `root`. */
export function statePaths(root: string) {
  const dir = join(root, STATE_DIR);
  const data = join(dir, 'data');
  return {
    dir,
    state: join(dir, 'state.json'),
    logs: join(dir, 'logs'),
    data,
    /** The embedded bus's log (BUS_URL `embedded://<bus>`). */
    bus: join(data, 'bus'),
    releases: join(dir, 'releases'),
    reports: join(dir, 'reports'),
    audit: join(dir, 'audit.log'),
    /** TRACES_DIR: one span file per service (`traceFile`). */
    traces: join(dir, 'traces'),
    /** GATEWAY_CONFIG of a local gateway. */
    gatewayConfig: join(dir, 'gateway.json'),
    /** The running drill's state; absent when no drill is on. */
    activeDrill: join(dir, 'drills', 'active.json'),
  };
}

/** Span files are JSON lines named after the service. */
export const TRACE_FILE_SUFFIX = '.jsonl';

/** The span file a service writes under TRACES_DIR. */
export function traceFile(tracesDir: string, service: string): string {
  return join(tracesDir, `${service}${TRACE_FILE_SUFFIX}`);
}
