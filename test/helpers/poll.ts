/** Bounded polling and process checks shared by tests that wait for processes and servers. */
import { until as holds, sleep } from '../../src/core/sleep.ts';

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
    await sleep(delayMs);
  }
  const cause = lastError === undefined ? '' : ` (last error: ${String(lastError)})`;
  throw new Error(`timed out waiting for ${what}${cause}`);
}

/** Waits until `predicate()` holds, at most `tries` checks `delayMs` apart (the product's `until`). */
export async function until(
  predicate: () => boolean,
  what: string,
  tries = 100,
  delayMs = 100,
): Promise<void> {
  if (!(await holds(predicate, tries, delayMs))) throw new Error(`timed out waiting for ${what}`);
}

/** The product's liveness check: tests wait on processes exactly as platformctl judges them. */
export { isAlive as alive } from '../../src/core/process-alive.ts';
