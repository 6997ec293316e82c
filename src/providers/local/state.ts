/**
 * `.platform/state.json`: what the local supervisor runs, written atomically (temp file + rename)
 * by the supervisor on every change, and read (and reconciled with reality) by every command.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeJsonAtomic } from '../../core/json-file.ts';
import { isAlive } from '../../core/process-alive.ts';
import { ensureDir } from '../../core/state-dir.ts';
import type { InstanceStatus, TrafficSpec } from '../provider.ts';

export interface InstanceRecord extends InstanceStatus {
  /** Absolute path of the release entry the process runs (also used to recognise our processes). */
  entry: string;
  logFile: string;
  /** The instance has answered /readyz at least once since it was (re)started by `up`/`scale`. */
  everReady: boolean;
}

export interface ServiceRecord {
  kind: 'gateway' | 'service' | 'worker';
  /** Desired instances per version; a version absent here has no instances. */
  replicas: Record<string, number>;
  /** Versions in the order they were started; the first is the stable one. */
  versions: string[];
  traffic?: TrafficSpec;
}

export interface SupervisorRecord {
  pid: number;
  startedAt: string;
  detached: boolean;
  /** The supervisor's control API (127.0.0.1, Bearer admin token). */
  controlUrl: string;
}

export interface LocalState {
  schema: 1;
  updatedAt: string;
  supervisor?: SupervisorRecord;
  gatewayUrl?: string;
  services: Record<string, ServiceRecord>;
  instances: InstanceRecord[];
  /** Why the last `up` could not finish, e.g. a crash-looping dependency. */
  error?: string;
}

export function emptyState(): LocalState {
  return { schema: 1, updatedAt: new Date().toISOString(), services: {}, instances: [] };
}

export function readState(file: string): LocalState {
  if (!existsSync(file)) return emptyState();
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as LocalState;
    return parsed.schema === 1 ? parsed : emptyState();
  } catch {
    // A torn or hand-edited file: treat as no state; reconciliation finds leftover processes by pid.
    return emptyState();
  }
}

/** Writes the state atomically so a reader never sees half a file. */
export function writeState(file: string, state: LocalState): void {
  ensureDir(dirname(file));
  writeJsonAtomic(file, { ...state, updatedAt: new Date().toISOString() });
}

export function removeState(file: string): void {
  rmSync(file, { force: true });
}

export interface Reconciled {
  state: LocalState;
  /** The supervisor process is alive. */
  running: boolean;
  /** Instance processes still alive although their supervisor is gone. */
  orphans: InstanceRecord[];
  /** Something in the state did not match reality and was corrected. */
  changed: boolean;
}

/**
 * Compares the state with the processes that really exist: a dead supervisor means nothing is
 * supervised any more; instances whose process died are marked stopped; live instances of a dead
 * supervisor are reported as orphans for `down`/`up` to clean up.
 */
export function reconcile(
  state: LocalState,
  alive: (pid: number | undefined, marker?: string) => boolean = isAlive,
): Reconciled {
  const running = state.supervisor !== undefined && alive(state.supervisor.pid, undefined);
  let changed = false;
  const orphans: InstanceRecord[] = [];
  const instances = state.instances.map((rec) => {
    // A standby exits by itself when its supervisor goes away (standby.ts): it is nothing to show.
    const { standbyPid: _gone, ...bare } = rec;
    const inst = running || rec.standbyPid === undefined ? rec : bare;
    if (inst !== rec) changed = true;
    const live = alive(inst.pid, inst.entry);
    if (!running && live) orphans.push(inst);
    if (!running && inst.state !== 'stopped' && inst.state !== 'crash-loop') {
      changed = true;
      return { ...inst, state: live ? inst.state : ('stopped' as const), pid: live ? inst.pid : undefined };
    }
    if (running && inst.pid !== undefined && !live && (inst.state === 'ready' || inst.state === 'starting')) {
      // The supervisor has not noticed yet (it will restart it); report what is true right now.
      changed = true;
      return { ...inst, state: 'backoff' as const };
    }
    return inst;
  });
  const next: LocalState = { ...state, instances };
  if (!running && state.supervisor) {
    changed = true;
    delete next.supervisor;
  }
  return { state: next, running, orphans, changed };
}
