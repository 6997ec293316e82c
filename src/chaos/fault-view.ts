/**
 * What chaos has in force right now, for `status` and the dashboard: the gateway's faults with
 * their lease expiry, and the other faults a chaos run recorded (paused processes, filled disks,
 * stopped services) with whether the run that owns them still lives.
 */
import type { Fault } from '../../runtime/contract/gateway-admin.ts';
import { isAlive } from '../core/process-alive.ts';
import { readActive } from './active-faults.ts';

export interface ActiveFaultView {
  source: 'gateway' | 'chaos-run';
  description: string;
  /** Gateway fault id. */
  id?: string;
  /** When the lease lapses; absent for a fault that stays until removed. */
  expiresAt?: string;
  expiresInMs?: number;
  /** The chaos run that injected it, when known, and whether it still runs. */
  owner?: { pid: number; experiment: string; alive: boolean };
}

/** One line for a gateway fault: `+500ms on content /content`, `100% 503 on content@v2`. */
export function describeFault(f: Fault): string {
  const what = [
    f.delayMs ? `+${f.delayMs}ms` : '',
    f.abortPct ? `${f.abortPct}% ${f.abortStatus ?? 503}` : '',
  ]
    .filter(Boolean)
    .join(' and ');
  return `${what || 'no-op'} on ${f.service}${f.version ? `@${f.version}` : ''}${f.route ? ` ${f.route}` : ''}`;
}

/** Active faults from the gateway's list and the chaos run's record, newest expiry first. */
export function activeFaults(root: string, gatewayFaults: Fault[], now = Date.now()): ActiveFaultView[] {
  const run = readActive(root);
  const owner = run ? { pid: run.pid, experiment: run.experiment, alive: isAlive(run.pid) } : undefined;
  const recorded = new Set(
    (run?.faults ?? []).flatMap((f) => (f.undo?.kind === 'gateway-fault' ? [f.undo.id] : [])),
  );
  const views: ActiveFaultView[] = gatewayFaults.map((f) => ({
    source: 'gateway',
    id: f.id,
    description: describeFault(f),
    ...(f.expiresAt
      ? { expiresAt: f.expiresAt, expiresInMs: Math.max(0, Date.parse(f.expiresAt) - now) }
      : {}),
    ...(owner && recorded.has(f.id) ? { owner } : {}),
  }));
  for (const f of run?.faults ?? []) {
    if (f.undo?.kind === 'gateway-fault') continue;
    views.push({ source: 'chaos-run', description: f.description, ...(owner ? { owner } : {}) });
  }
  return views;
}
