/**
 * Fault actions. Each injection returns an `ActiveFault` whose `revert()` undoes it; the runner
 * keeps every active fault and reverts them all on rollback, abort or Ctrl-C, newest first.
 *
 * Traffic faults (latency, errors) and kills go through the provider, so they work on any provider.
 * The rest need the machine the local provider runs on: dependency partitions take the SQLite
 * write lock of the embedded bus or a service's database (writers then time out as if the server
 * were gone) or SIGSTOP a service's processes; CPU stress spawns busy processes; disk faults write
 * into the service's data directory. Kubernetes gets the same actions as Chaos Mesh objects.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlatformError, UsageError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';
import type { InstanceStatus, Provider } from '../providers/provider.ts';
import type { Action } from './experiment.ts';

export interface ActiveFault {
  description: string;
  revert(): Promise<void>;
  /**
   * How to undo the fault from another process (drills outlive the CLI that injected them).
   * Absent when the undo needs this process (a held SQLite lock, a repeating kill timer).
   */
  undo?: FaultUndo;
}

/** Serialisable undo information: enough for a later process to revert the fault. */
export type FaultUndo =
  | { kind: 'none' }
  | { kind: 'gateway-fault'; id: string }
  | { kind: 'signal'; pids: number[]; signal: 'SIGCONT' | 'SIGKILL' }
  | { kind: 'remove-file'; file: string }
  | { kind: 'scale'; service: string; version?: string; replicas: number };

/** Reverts a fault from its recorded undo information (idempotent: reverting twice is harmless). */
export async function revertUndo(undo: FaultUndo, provider: Provider): Promise<void> {
  switch (undo.kind) {
    case 'none':
      return;
    case 'gateway-fault':
      try {
        await provider.clearFaults(undo.id);
      } catch (err) {
        // Already removed (by the on-call, or the gateway restarted): nothing left to undo.
        if (!/answered 404/.test((err as Error).message)) throw err;
      }
      return;
    case 'signal':
      signalAll(undo.pids, undo.signal);
      return;
    case 'remove-file':
      rmSync(undo.file, { force: true });
      return;
    case 'scale':
      await provider.scale(undo.service, undo.replicas, { version: undo.version });
      return;
  }
}

export interface FaultContext {
  provider: Provider;
  /** Project root: `.platform/data` lives under it for the local provider. */
  root: string;
  maxInstancesPct: number;
  random: () => number;
  /** Called for every kill of a repeated kill action, for the journal. */
  note(message: string): void;
  /** Lease of traffic faults: the provider drops them this long after injection unless renewed. */
  leaseMs?: number;
}

type TargetedAction = Extract<Action, { target: unknown }>;

/** The instances an action hits, within the blast-radius limit. */
export async function pickInstances(action: TargetedAction, ctx: FaultContext): Promise<InstanceStatus[]> {
  const target = action.target;
  if (!target) return [];
  const status = await ctx.provider.status();
  const svc = status.services.find((s) => s.name === target.service);
  if (!svc)
    throw new UsageError(
      `experiment targets unknown service "${target.service}"`,
      `services: ${status.services.map((s) => s.name).join(', ')}`,
    );
  const candidates = svc.instances.filter((i) => (!target.version || i.version === target.version) && i.pid);
  if (candidates.length === 0)
    throw new PlatformError('CHAOS_NO_TARGET', `no running instance of ${target.service} to hit`, {
      hint: `start it with \`platformctl up ${target.service}\`${target.version ? ' or target a version that runs' : ''}`,
    });
  const limit = Math.max(1, Math.floor((candidates.length * ctx.maxInstancesPct) / 100));
  const chosen =
    target.instance === 'all'
      ? candidates
      : target.instance === 'first'
        ? [candidates[0] as InstanceStatus]
        : [candidates[Math.floor(ctx.random() * candidates.length)] as InstanceStatus];
  if (chosen.length > limit) {
    throw new PlatformError(
      'CHAOS_BLAST_RADIUS',
      `${action.action} would hit ${chosen.length} of ${candidates.length} ${target.service} instances; limits.maxInstancesPct allows ${limit}`,
      {
        hint: 'raise limits.maxInstancesPct or target fewer instances',
      },
    );
  }
  return chosen;
}

function signalAll(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // the process is gone; nothing to do
    }
  }
}

/** Holds SQLite's write lock on every database file in `dir` until released. */
async function lockDatabases(files: string[]): Promise<() => void> {
  const { default: Database } = await import('better-sqlite3');
  const held = files.map((f) => {
    const db = new Database(f, { timeout: 10_000 });
    db.exec('BEGIN IMMEDIATE');
    return db;
  });
  return () => {
    for (const db of held) {
      db.exec('ROLLBACK');
      db.close();
    }
  };
}

function sizeBytes(size: string): number {
  const m = /^(\d+)(KB|MB|GB)$/.exec(size) as RegExpExecArray;
  return Number(m[1]) * { KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m[2] as 'KB' | 'MB' | 'GB'];
}

/** Whether this provider can inject this action (used by --dry-run). */
export function supports(provider: Provider, action: Action): boolean {
  if (action.action === 'clock-skew') return false;
  if (provider.name !== 'local')
    return ['kill-instance', 'inject-latency', 'inject-errors', 'pause'].includes(action.action);
  return true;
}

export async function inject(
  action: Exclude<Action, { action: 'pause' }>,
  ctx: FaultContext,
): Promise<ActiveFault> {
  const { provider } = ctx;
  switch (action.action) {
    case 'kill-instance': {
      const kill = async () => {
        const victims = await pickInstances(action, ctx);
        for (const v of victims) {
          await provider.kill(v.id).catch((err: Error) => ctx.note(`kill ${v.id} skipped: ${err.message}`));
          ctx.note(`killed ${v.id} (pid ${v.pid})`);
        }
      };
      await kill();
      if (!action.every)
        return {
          description: `killed ${action.target.service}`,
          revert: async () => {},
          undo: { kind: 'none' },
        };
      let running = Promise.resolve();
      const timer = setInterval(() => {
        running = running.then(kill, kill);
      }, action.every);
      return {
        description: `kill ${action.target.service} every ${action.every}ms`,
        revert: async () => {
          clearInterval(timer);
          await running;
        },
      };
    }
    case 'stop-service': {
      const svc = (await provider.status()).services.find((s) => s.name === action.target.service);
      const replicas =
        svc?.instances.filter((i) => !action.target.version || i.version === action.target.version).length ??
        1;
      await provider.scale(action.target.service, 0, { version: action.target.version });
      return {
        description: `stopped ${action.target.service}`,
        undo: {
          kind: 'scale',
          service: action.target.service,
          version: action.target.version,
          replicas: Math.max(1, replicas),
        },
        revert: async () => {
          await provider.scale(action.target.service, Math.max(1, replicas), {
            version: action.target.version,
          });
        },
      };
    }
    case 'inject-latency':
    case 'inject-errors': {
      const id = await provider.injectFault({
        service: action.target.service,
        version: action.target.version,
        route: action.route,
        ...(action.action === 'inject-latency'
          ? { delayMs: action.delay }
          : { abortPct: action.percent, abortStatus: action.status }),
        ...(ctx.leaseMs ? { ttlMs: ctx.leaseMs } : {}),
      });
      return {
        description:
          action.action === 'inject-latency'
            ? `+${action.delay}ms on ${action.target.service}`
            : `${action.percent}% ${action.status} on ${action.target.service}`,
        revert: () => provider.clearFaults(id),
        undo: { kind: 'gateway-fault', id },
      };
    }
    case 'partition': {
      requireLocal(provider, action.action);
      const data = statePaths(ctx.root).data;
      const dep = action.dependency;
      if (dep === 'bus' || dep === 'db') {
        const dir = dep === 'bus' ? join(data, 'bus') : join(data, action.target?.service ?? '');
        if (dep === 'db' && !action.target) throw new UsageError('partition of "db" needs a target service');
        const files = existsSync(dir)
          ? readdirSync(dir)
              .filter((f) => f.endsWith('.db'))
              .map((f) => join(dir, f))
          : [];
        if (files.length === 0)
          throw new PlatformError('CHAOS_NO_TARGET', `no database files in ${dir}`, {
            hint: 'the target service must have started (and used its database) before a db partition',
          });
        const release = await lockDatabases(files);
        return {
          description: `${dep} unreachable (write lock held on ${files.length} file(s))`,
          revert: async () => release(),
        };
      }
      const svc = (await provider.status()).services.find((s) => s.name === dep);
      if (!svc)
        throw new UsageError(`partition: unknown dependency "${dep}"`, 'use bus, db, or a service name');
      const pids = svc.instances.flatMap((i) => (i.pid ? [i.pid] : []));
      signalAll(pids, 'SIGSTOP');
      return {
        description: `${dep} unreachable (processes paused)`,
        revert: async () => signalAll(pids, 'SIGCONT'),
        undo: { kind: 'signal', pids, signal: 'SIGCONT' },
      };
    }
    case 'cpu-stress': {
      requireLocal(provider, action.action);
      // Each burner checks now and then that the runner lives, and ends with it: a killed run
      // cannot leave CPU burners behind.
      const burner = `const p=${process.pid};let n=0;for(;;){if(++n%5e6===0){try{process.kill(p,0)}catch{process.exit(0)}}}`;
      const workers: ChildProcess[] = Array.from({ length: action.workers }, () =>
        spawn(process.execPath, ['-e', burner], { stdio: 'ignore' }),
      );
      return {
        description: `${action.workers} CPU burner(s) beside ${action.target.service}`,
        undo: { kind: 'signal', pids: workers.flatMap((w) => (w.pid ? [w.pid] : [])), signal: 'SIGKILL' },
        revert: async () => {
          for (const w of workers) w.kill('SIGKILL');
        },
      };
    }
    case 'fill-disk': {
      requireLocal(provider, action.action);
      const file = join(statePaths(ctx.root).data, action.target.service, 'chaos-fill.bin');
      const fd = openSync(file, 'w');
      try {
        // Allocate real blocks (a sparse file would not fill anything).
        const chunk = Buffer.alloc(1024 * 1024, 0xab);
        const total = sizeBytes(action.size);
        for (let written = 0; written < total; written += chunk.length)
          writeFileSync(fd, chunk.subarray(0, Math.min(chunk.length, total - written)));
      } catch (err) {
        ftruncateSync(fd, 0);
        closeSync(fd);
        rmSync(file, { force: true });
        throw err;
      }
      closeSync(fd);
      return {
        description: `${action.size} written to ${action.target.service}'s data dir`,
        revert: async () => rmSync(file, { force: true }),
        undo: { kind: 'remove-file', file },
      };
    }
    case 'clock-skew':
      throw new PlatformError(
        'NOT_SUPPORTED',
        `clock-skew is not supported by the ${provider.name} provider`,
        {
          hint: 'processes on one machine share its clock; render the experiment for Kubernetes (Chaos Mesh TimeChaos) instead',
        },
      );
  }
}

function requireLocal(provider: Provider, what: string): void {
  if (provider.name !== 'local') {
    throw new PlatformError('NOT_SUPPORTED', `${what} runs through Chaos Mesh on ${provider.name}`, {
      hint: 'use `platformctl chaos render <file>` and apply the objects',
    });
  }
}
