/**
 * The rollout's state on disk and its control channel, so `canary status|promote|abort|pause|resume`
 * work from another terminal while `deploy --wait` runs.
 *
 * - `.platform/rollouts/<service>.json` is written only by the process running the rollout, always
 *   atomically (temp file + rename), so readers never see half a document.
 * - Commands go into an inbox directory `.platform/rollouts/<service>.inbox/`, one file per command
 *   (also temp + rename). The runner picks them up on every tick, in order, and deletes them. One
 *   file per command means two terminals can never overwrite each other's command.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/json-file.ts';
import { isAlive } from '../core/process-alive.ts';
import { STATE_DIR } from '../core/state-dir.ts';
import type { AnalysisOutcome } from './analysis.ts';
import type { ResolvedStep, StrategyName } from './strategy.ts';

export const PHASES = [
  'Progressing',
  'Paused',
  'Promoting',
  'Promoted',
  'Aborting',
  'RolledBack',
  'Inconclusive',
  'Baking',
] as const;
export type Phase = (typeof PHASES)[number];
export const TERMINAL_PHASES: readonly Phase[] = ['Promoted', 'RolledBack'];

export interface RolloutEvent {
  at: string;
  type: string;
  service: string;
  /** One human line explaining the decision. */
  message: string;
  data?: Record<string, unknown>;
}

export interface AnalysisRecord {
  step: number;
  startedAt: string;
  weight: number;
  outcome?: Omit<AnalysisOutcome, 'measurements'>;
  measurements: AnalysisOutcome['measurements'];
}

export interface RolloutState {
  schema: 1;
  id: string;
  service: string;
  release: string;
  /** The version serving before the rollout (rollback target). */
  stable: string;
  strategy: StrategyName;
  phase: Phase;
  steps: ResolvedStep[];
  stepIndex: number;
  /** Percentage of traffic on the new version. */
  weight: number;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** When the new version first received traffic. */
  exposedAt?: string;
  /** The process running the rollout (for liveness checks by other terminals). */
  pid: number;
  /** The environment of platform.yaml it runs in (absent: the local one), for a runner that is gone. */
  environment?: string;
  message: string;
  /** Why the rollout ended, when it has. */
  outcome?: {
    result: 'promoted' | 'rolledBack';
    reason: string;
    interrupted?: boolean;
    /** Rolled back because an analysis ran out of time (inconclusiveLimit, progressDeadline). */
    deadlineExceeded?: boolean;
  };
  /** The runner ended leaving the rollout held for a human (onDeadline: pause). */
  held?: { at: string; reason: string };
  analyses: AnalysisRecord[];
  /** The latest events (the full list goes to the report). */
  events: RolloutEvent[];
  report?: { json: string; markdown: string };
}

export type ControlType = 'promote' | 'abort' | 'pause' | 'resume';

export interface ControlCommand {
  id: string;
  type: ControlType;
  /** promote --full: skip every remaining step. */
  full?: boolean;
  at: string;
  from: string;
}

export function rolloutsDir(root: string): string {
  return join(root, STATE_DIR, 'rollouts');
}

export function statePath(root: string, service: string): string {
  return join(rolloutsDir(root), `${service}.json`);
}

function inboxDir(root: string, service: string): string {
  return join(rolloutsDir(root), `${service}.inbox`);
}

export function readState(root: string, service: string): RolloutState | undefined {
  const file = statePath(root, service);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as RolloutState;
}

export function writeState(root: string, state: RolloutState): void {
  mkdirSync(rolloutsDir(root), { recursive: true });
  writeJsonAtomic(statePath(root, state.service), state);
}

/** Queues a command for the running rollout. */
export function sendCommand(
  root: string,
  service: string,
  type: ControlType,
  extra: { full?: boolean } = {},
): ControlCommand {
  const dir = inboxDir(root, service);
  mkdirSync(dir, { recursive: true });
  const cmd: ControlCommand = {
    id: `${Date.now().toString().padStart(15, '0')}-${randomBytes(3).toString('hex')}`,
    type,
    ...(extra.full ? { full: true } : {}),
    at: new Date().toISOString(),
    from: `pid ${process.pid}`,
  };
  writeJsonAtomic(join(dir, `${cmd.id}.json`), cmd);
  return cmd;
}

/** Takes (reads and deletes) every queued command, oldest first. */
export function takeCommands(root: string, service: string): ControlCommand[] {
  const dir = inboxDir(root, service);
  if (!existsSync(dir)) return [];
  const out: ControlCommand[] = [];
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    const file = join(dir, name);
    try {
      out.push(JSON.parse(readFileSync(file, 'utf8')) as ControlCommand);
    } catch {
      // unreadable: drop it rather than loop on it forever
    }
    rmSync(file, { force: true });
  }
  return out;
}

/** Drops commands left over from an earlier rollout. */
export function clearInbox(root: string, service: string): void {
  rmSync(inboxDir(root, service), { recursive: true, force: true });
}

/** The process that wrote the state is still running it. */
export function runnerAlive(state: RolloutState): boolean {
  return !TERMINAL_PHASES.includes(state.phase) && !state.held && isAlive(state.pid);
}

/** Whether a command is still waiting in the inbox (not yet taken by the runner). */
export function inboxHas(root: string, service: string, id: string): boolean {
  return existsSync(join(inboxDir(root, service), `${id}.json`));
}
