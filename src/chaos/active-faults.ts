/**
 * The faults a chaos run has in force, on disk (`.platform/chaos/active.json`), so another process
 * can see and undo them: `chaos stop` (the kill switch) and `status` read it. Written only by the
 * running experiment, atomically; gone when the run has reverted everything.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/json-file.ts';
import { ensureDir, statePaths } from '../core/state-dir.ts';
import type { FaultUndo } from './faults.ts';

export interface ActiveFaultRecord {
  /** Local id within the run. */
  key: number;
  description: string;
  injectedAt: string;
  /** When its lease lapses if nobody renews it (gateway faults); absent when it has none. */
  expiresAt?: string;
  /** How another process undoes it; absent when only the runner can (it reverts on SIGINT). */
  undo?: FaultUndo;
}

export interface ActiveChaos {
  /** The process running the experiment; `chaos stop` interrupts it so it reverts and stops load. */
  pid: number;
  experiment: string;
  startedAt: string;
  faults: ActiveFaultRecord[];
}

/**
 * Faults of a dead run that are still in force: a paused process, a filled disk, a stopped
 * service, a gateway fault whose lease has not lapsed yet. A held lock or a kill timer died with
 * the run; a lapsed lease is gone.
 */
export function leftovers(active: ActiveChaos, now = Date.now()): ActiveFaultRecord[] {
  return active.faults.filter((f) => {
    if (!f.undo || f.undo.kind === 'none') return false;
    if (f.undo.kind === 'gateway-fault') return f.expiresAt !== undefined && Date.parse(f.expiresAt) > now;
    return true;
  });
}

export function activeFile(root: string): string {
  return join(statePaths(root).dir, 'chaos', 'active.json');
}

export function readActive(root: string): ActiveChaos | undefined {
  const file = activeFile(root);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ActiveChaos;
  } catch {
    return undefined;
  }
}

export function writeActive(root: string, active: ActiveChaos): void {
  ensureDir(join(statePaths(root).dir, 'chaos'));
  writeJsonAtomic(activeFile(root), active);
}

export function clearActive(root: string): void {
  rmSync(activeFile(root), { force: true });
}
