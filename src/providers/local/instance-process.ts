/**
 * One supervised instance as a process: how it is started (its own process group, stdout and
 * stderr appended to its log file), signalled and waited for. The restart and readiness decisions
 * are the supervisor's; this module only deals with the operating system.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, renameSync, statSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { RuntimeEnv } from '../../../runtime/contract/runtime-env.ts';
import type { RestartTracker } from './restart-policy.ts';
import type { ServicePlan } from './service-plan.ts';
import type { StandbySlot } from './standbys.ts';
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
  /** The loaded process that takes over when this one dies (standbys.ts). */
  standby: StandbySlot;
}

const MAX_LOG_BYTES = 20 * 1024 * 1024;

/** Whether `file` has grown past 20 MiB, when a new process rotates it. */
export function logNeedsRotation(file: string): boolean {
  try {
    return statSync(file).size > MAX_LOG_BYTES;
  } catch {
    return false; // no file yet
  }
}

/** Keeps one previous file (`.log.1`) when a log grows past 20 MiB; checked at each cold (re)start. */
function rotateLog(file: string): void {
  if (logNeedsRotation(file)) renameSync(file, `${file}.1`);
}

/** The child's descriptor of its notification pipe (runtime/lib/ready-notify.ts). */
const NOTIFY_FD = 3;
/** Longer than any notification: a child writing more on the pipe is not speaking the protocol. */
const MAX_NOTIFY_BYTES = 4096;

/**
 * `node <entry>` detached in its own process group, output appended to `logFile`, with a
 * notification pipe on descriptor 3 (NOTIFY_FD) that services built on the runtime kit say
 * `STATUS=starting` and `READY=1` on (see onNotifications). A `standby` process loads and waits
 * for `START` on that pipe (standby.ts).
 */
export function startProcess(
  entry: string,
  cwd: string,
  env: Record<string, string>,
  logFile: string,
  standby = false,
): ChildProcess {
  // Not under a standby: the instance's live process still writes to the file it would rename.
  if (!standby) rotateLog(logFile);
  const fd = openSync(logFile, 'a');
  const notify: RuntimeEnv = { NOTIFY_FD: String(NOTIFY_FD), ...(standby ? { NOTIFY_STANDBY: '1' } : {}) };
  try {
    return spawn(process.execPath, [entry], {
      cwd,
      env: { ...env, ...notify },
      stdio: ['ignore', fd, fd, 'pipe'],
      detached: true,
    });
  } finally {
    closeSync(fd);
  }
}

/** What a child said on its notification pipe. */
export interface NotificationHandlers {
  /** `STATUS=starting`: the child will say when it is ready. */
  starting(): void;
  /** `CAPABILITIES=standby`: the child's program can be started as a standby. */
  standbyCapable?(): void;
  /** `STATUS=standby`: the child, started as a standby, has loaded and waits for `START`. */
  standby?(): void;
  /** `READY=1`: the child is ready (its `/readyz` answers 200). */
  ready(): void;
}

/**
 * Reads the child's notification pipe: one handler call per known line, unknown lines ignored. A
 * child that says nothing (a service not built on the kit) just closes the pipe when it exits.
 */
export function onNotifications(child: ChildProcess, handlers: NotificationHandlers): void {
  const pipe = child.stdio[NOTIFY_FD] as Readable | null | undefined;
  if (!pipe) return;
  let pending = '';
  pipe.setEncoding('utf8');
  pipe.on('error', () => {
    // the child is gone; its exit is handled elsewhere
  });
  pipe.on('data', (chunk: string) => {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line === 'STATUS=starting') handlers.starting();
      else if (line === 'READY=1') handlers.ready();
      else if (line === 'CAPABILITIES=standby') handlers.standbyCapable?.();
      else if (line === 'STATUS=standby') handlers.standby?.();
    }
    if (pending.length > MAX_NOTIFY_BYTES) pipe.destroy();
  });
}

/** Writes one line to the child's notification pipe (to a standby: `START`). */
export function tellChild(child: ChildProcess, line: string): void {
  const pipe = child.stdio[NOTIFY_FD] as Writable | null | undefined;
  pipe?.write(`${line}\n`);
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
