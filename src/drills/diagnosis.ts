/**
 * Diagnostic actions on a drill's timeline: the first `status`, `logs`, `top`, `traces`,
 * `canary status` or `dashboard` run while a drill is on marks when the on-call started looking —
 * the drill's "detect", measured apart from acknowledging the page.
 */
import { addEntry, readActive, writeActive } from './state.ts';

/** Adds a `diagnose` entry for `command` (once per command) when a drill is running. */
export function recordDiagnosis(root: string, command: string, now = new Date()): boolean {
  const st = readActive(root);
  if (!st) return false;
  const message = `ran ${command}`;
  if (st.timeline.some((e) => e.type === 'diagnose' && e.message === message)) return false;
  addEntry(st, 'diagnose', message, now);
  writeActive(root, st);
  return true;
}
