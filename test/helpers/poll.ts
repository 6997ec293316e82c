/** Bounded polling and process checks shared by tests that wait for processes and servers. */
import { readFileSync } from 'node:fs';

/**
 * Calls `fn` until it returns something other than `undefined`, at most `tries` times, `delayMs`
 * apart. A throw counts as "not yet" (a server restarting refuses connections); the last one is
 * named if time runs out.
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  tries = 100,
  delayMs = 100,
): Promise<T> {
  let lastError: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, delayMs));
  }
  const cause = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
  throw new Error(`timed out waiting for ${what}${cause}`);
}

/** Waits until `predicate()` holds, at most `tries` checks `delayMs` apart. */
export async function until(
  predicate: () => boolean,
  what: string,
  tries = 100,
  delayMs = 100,
): Promise<void> {
  await waitFor(what, () => (predicate() ? true : undefined), tries, delayMs);
}

/** True when `pid` is a live process and not a zombie. */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
