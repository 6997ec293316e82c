/**
 * The running drill lives on disk (`.platform/drills/active.json`) so every `drill` command is a
 * new process: the timeline, the hints taken and each fault's undo information survive the CLI
 * exiting. Finished drills are kept as `.platform/drills/history/<id>.json` for `drill history`.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PlatformError } from '../core/errors.ts';
import { ensureDir, STATE_DIR, statePaths } from '../core/state-dir.ts';
import type { DrillUndo } from './faults.ts';
import type { Impact } from './impact.ts';
import type { Score, Times } from './scoring.ts';

export type TimelineType =
  | 'start'
  | 'page'
  | 'inject'
  | 'ack'
  | 'diagnose'
  | 'hint'
  | 'note'
  | 'resolve-refused'
  | 'resolve'
  | 'revert'
  | 'abort';

export interface TimelineEntry {
  at: string;
  /** Milliseconds since the drill started. */
  t: number;
  type: TimelineType;
  message: string;
}

export interface DrillState {
  schema: 1;
  id: string;
  scenario: string;
  title: string;
  severity: string;
  file: string;
  startedAt: string;
  seed: number;
  page: string;
  runbook?: string;
  /** Undo information of every injected fault, in injection order. */
  faults: { description: string; undo: DrillUndo; reverted?: boolean }[];
  hintsTaken: number;
  timeline: TimelineEntry[];
  /** Gateway request counters when the drill started (for the impact). */
  baseline?: Record<string, { requests: number; errors: number }>;
}

export interface DrillRecord extends Omit<DrillState, 'faults' | 'baseline'> {
  outcome: 'resolved' | 'aborted';
  endedAt: string;
  times?: Times;
  score?: Score;
  impact?: Impact;
  faults: { description: string }[];
  report?: { markdown: string; json: string };
}

export function drillsDir(root: string): string {
  return join(root, STATE_DIR, 'drills');
}

function activeFile(root: string): string {
  return statePaths(root).activeDrill;
}

export function readActive(root: string): DrillState | undefined {
  const file = activeFile(root);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as DrillState;
}

export function requireActive(root: string): DrillState {
  const st = readActive(root);
  if (!st)
    throw new PlatformError('NO_ACTIVE_DRILL', 'no drill is running', {
      hint: 'start one with `platformctl drill start --random`',
    });
  return st;
}

export function writeActive(root: string, st: DrillState): void {
  ensureDir(drillsDir(root));
  const file = activeFile(root);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(st, null, 2)}\n`);
  renameSync(tmp, file);
}

export function clearActive(root: string): void {
  rmSync(activeFile(root), { force: true });
}

export function addEntry(
  st: DrillState,
  type: TimelineType,
  message: string,
  now = new Date(),
): TimelineEntry {
  const entry = {
    at: now.toISOString(),
    t: now.getTime() - Date.parse(st.startedAt),
    type,
    message,
  };
  st.timeline.push(entry);
  return entry;
}

export function writeRecord(root: string, record: DrillRecord): string {
  const file = join(ensureDir(join(drillsDir(root), 'history')), `${record.id}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

export function readHistory(root: string): DrillRecord[] {
  const dir = join(drillsDir(root), 'history');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as DrillRecord)
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
