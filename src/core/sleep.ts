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
