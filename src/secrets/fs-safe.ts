/** File helpers for key material: atomic replace, owner-only permissions. */

import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ensureDir } from '../core/state-dir.ts';

/**
 * Writes `data` to `file` atomically with mode 0600: a temp file in the same directory (created
 * exclusively, already 0600, so the value is never readable by others even for a moment), fsync,
 * rename over the target. A crash leaves either the old file or the new one, never half of one.
 */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const dir = ensureDir(dirname(file));
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  try {
    const dfd = openSync(dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Directory fsync is best effort (not supported on every filesystem).
  }
}

/** Permission bits of a file (e.g. 0o600). */
export function modeOf(file: string): number {
  return statSync(file).mode & 0o777;
}

/** True when group or others can read, write or execute the file. */
export function isLooserThanOwnerOnly(file: string): boolean {
  return (modeOf(file) & 0o077) !== 0;
}
