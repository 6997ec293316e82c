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

/**
 * Calls `fn` every 40 ms until its value passes `ok`, at most `tries` times, and returns that
 * value; a throw counts as "not yet". Times out naming the last value seen.
 */
export async function valueUntil<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  tries = 1500,
): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < tries; i++) {
    last = await fn().catch(() => undefined as T);
    if (last !== undefined && ok(last)) return last;
    await sleep(40);
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
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
