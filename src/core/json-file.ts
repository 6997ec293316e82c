/** JSON files that other processes read while we write them (state, gateway config, rollouts). */
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';

/**
 * Writes `value` as pretty JSON so that a concurrent reader sees the old or the new document,
 * never a mix: the temp name is unique per process and call, and rename is atomic.
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}
