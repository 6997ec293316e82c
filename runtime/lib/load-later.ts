/**
 * Something a service needs soon but not to become ready (the OpenTelemetry SDK, a gRPC client,
 * the default process metrics): loaded once, at the first `get()` or `warmUp` after readiness,
 * whichever comes first. A restart waits for everything loaded before readiness, so heavy work
 * belongs here. Once loaded, its modules join the compile cache written at readiness (server.ts),
 * for the next (re)start.
 */
import { flushCompileCache } from 'node:module';

export interface LoadLater<T> {
  /** The loaded value; the first call loads it. A failed load is tried again by the next call. */
  get(): Promise<T>;
  /** Loads it `delayMs` from now unless something did first (the timer never holds the process). */
  warmUp(delayMs: number): void;
  /** Whether a load started (and did not fail). */
  readonly started: boolean;
  /** Cancels a pending warm-up. */
  cancel(): void;
}

export function loadLater<T>(load: () => Promise<T>): LoadLater<T> {
  let loaded: Promise<T> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const get = (): Promise<T> => {
    loaded ??= load().then(
      (value) => {
        flushCompileCache();
        return value;
      },
      (err: unknown) => {
        loaded = undefined;
        throw err;
      },
    );
    return loaded;
  };
  return {
    get,
    warmUp(delayMs) {
      if (loaded || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        // A failed warm-up is left for the next get() to try again and report.
        get().catch(() => {});
      }, delayMs);
      timer.unref();
    },
    get started() {
      return loaded !== undefined;
    },
    cancel() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
