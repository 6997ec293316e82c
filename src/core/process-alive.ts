/**
 * The one liveness check for processes platformctl started (supervisors, instances, rollout
 * runners) and the tests that wait for them.
 */
import { readFileSync } from 'node:fs';

/**
 * True when `pid` is a live process (not a zombie) and, if given, its command line contains
 * `marker` (a recycled pid running something else is not ours). EPERM from the signal probe means
 * the process exists but belongs to another user: alive.
 */
/**
 * True when `pid` exists but is stopped by a signal (SIGSTOP, SIGTSTP: state T in /proc): it holds
 * its port and memory but runs nothing. False where /proc is missing (not Linux).
 */
export function isPaused(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    return /\) [Tt] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function isAlive(pid: number | undefined, marker?: string): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    if (marker) return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    // No /proc (not Linux): the signal probe above is all we have.
  }
  return true;
}
