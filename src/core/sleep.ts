/**
 * Resolves after `ms` milliseconds, or as soon as `signal` aborts: the one pause the CLI's polling
 * loops and backoffs use, so a Ctrl-C never waits out a refresh interval.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Checks `predicate` up to `tries` times, `delayMs` apart, stopping early when `signal` aborts:
 * true as soon as it holds, false if it never did. The one bounded wait of the CLI's loops (a
 * process to exit, a port to free) and of the tests' helpers.
 */
export async function until(
  predicate: () => boolean | Promise<boolean>,
  tries: number,
  delayMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await predicate()) return true;
    if (signal?.aborted) return false;
    if (i < tries - 1) await sleep(delayMs, signal);
  }
  return false;
}
