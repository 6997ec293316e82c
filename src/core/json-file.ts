/** JSON files that other processes read while we write them (state, gateway config, rollouts). */
import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `value` as pretty JSON so that a concurrent reader sees the old or the new document,
 * never a mix: the temp name is unique per process and call, and rename is atomic.
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  // Math.random, not node:crypto: the name only has to differ from a concurrent writer's (the pid
  // already separates processes), and loading node:crypto cost ~5 ms of every command's start.
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}
