/**
 * `platformctl up` without --detach: the CLI process itself is the supervisor. It streams every
 * instance's log lines to a callback and stops everything (dependents first) when `signal` aborts
 * or another platformctl asks through the control API (`platformctl down`).
 */
import type { LogEntry, PlatformStatus, ProviderEvent } from '../provider.ts';
import { serveControl } from './control.ts';
import type { LocalProvider } from './local-provider.ts';
import { logFiles, readLogs } from './logs.ts';
import type { Plan } from './service-plan.ts';
import { removeState } from './state.ts';
import { Supervisor } from './supervisor.ts';

export interface ForegroundOptions {
  onEvent?: (e: ProviderEvent) => void;
  onLog?: (entry: LogEntry) => void;
  /** Called once every planned instance is ready. */
  onReady?: (status: PlatformStatus) => void;
  /** Aborting stops the platform (Ctrl-C). */
  signal: AbortSignal;
}

export async function runForeground(
  provider: LocalProvider,
  plan: Plan,
  opts: ForegroundOptions,
): Promise<void> {
  const { orphans } = provider.current();
  await provider.cleanOrphans(orphans);
  await provider.checkPorts(plan, undefined);
  const token = provider.token();
  const sup = new Supervisor({ root: provider.platform.root, token, detached: false, onEvent: opts.onEvent });
  const stopped = new AbortController();
  const stop = () => stopped.abort();
  opts.signal.addEventListener('abort', stop, { once: true });
  const control = await serveControl(sup, token, stop);
  sup.setRecord({
    pid: process.pid,
    startedAt: new Date().toISOString(),
    detached: false,
    controlUrl: control.url,
  });

  const known = plan.services.map((s) => s.name);
  const follower = (async () => {
    if (!opts.onLog) return;
    for await (const entry of readLogs(
      () => logFiles(provider.paths.logs, 'all', known),
      { follow: true, tail: 0, signal: stopped.signal },
      100,
    )) {
      opts.onLog(entry);
    }
  })();

  try {
    await Promise.race([
      sup.apply(plan),
      new Promise<void>((resolve) =>
        stopped.signal.addEventListener('abort', () => resolve(), { once: true }),
      ),
    ]);
    if (!stopped.signal.aborted) {
      opts.onReady?.(await provider.status());
      await new Promise<void>((resolve) => {
        if (stopped.signal.aborted) resolve();
        else stopped.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  } finally {
    stopped.abort();
    await sup.stopAll();
    sup.close();
    removeState(provider.paths.state);
    await control.close();
    await follower.catch(() => {});
  }
}
