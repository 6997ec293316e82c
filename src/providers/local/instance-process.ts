/**
 * One supervised instance as a process: how it is started (its own process group, stdout and
 * stderr appended to its log file), signalled and waited for. The restart and readiness decisions
 * are the supervisor's; this module only deals with the operating system.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, renameSync, statSync } from 'node:fs';
import type { RestartTracker } from './restart-policy.ts';
import type { ServicePlan } from './service-plan.ts';
import type { InstanceRecord } from './state.ts';

/** An instance and everything the supervisor tracks about its current process. */
export interface Managed {
  rec: InstanceRecord;
  spec: ServicePlan;
  child?: ChildProcess;
  tracker: RestartTracker;
  timer?: NodeJS.Timeout;
  stopping: boolean;
  spawnedAt: number;
  readyThisRun: boolean;
  exited?: Promise<void>;
  waiters: Set<() => void>;
}

const MAX_LOG_BYTES = 20 * 1024 * 1024;

/** Keeps one previous file (`.log.1`) when a log grows past 20 MiB; checked at each (re)start. */
function rotateLog(file: string): void {
  try {
    if (statSync(file).size > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // no file yet
  }
}

/** `node <entry>` detached in its own process group, output appended to `logFile`. */
export function startProcess(
  entry: string,
  cwd: string,
  env: Record<string, string>,
  logFile: string,
): ChildProcess {
  rotateLog(logFile);
  const fd = openSync(logFile, 'a');
  try {
    return spawn(process.execPath, [entry], { cwd, env, stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
}

/** Signals the process group (children of the service too), else the process alone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Waits for the instance's process to exit, at most `ms` (the timer never outlives the wait). */
export async function exitedWithin(m: Managed, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([(m.exited ?? Promise.resolve()).then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The n of an instance id `<service>-<n>`. */
export function idNumber(id: string): number {
  return Number(/-(\d+)$/.exec(id)?.[1] ?? 0);
}
