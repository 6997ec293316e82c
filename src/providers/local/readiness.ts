/** Readiness of instances: the HTTP probe, and waiting until an instance is ready or gives up. */
import { PlatformError } from '../../core/errors.ts';
import type { Managed } from './instance-process.ts';
import type { InstanceRecord } from './state.ts';

const PROBE_TIMEOUT_MS = 1000;

/** Whether `url` answers 2xx within the timeout. */
export async function probe(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Thrown when an instance crash-loops while `up`/`scale`/`deploy` waits for it. */
export class CrashLoopError extends PlatformError {
  constructor(instance: InstanceRecord) {
    super(
      'CRASH_LOOP',
      `${instance.id} keeps crashing (${instance.restarts} restarts); it is no longer restarted`,
      {
        hint: `see its logs: platformctl logs ${instance.service} --since 5m; fix it, then run platformctl up again`,
        details: { instance: instance.id, lastLogLines: instance.lastLogLines ?? [] },
      },
    );
  }
}

/**
 * Resolves when `m` is ready; rejects with CrashLoopError if it crash-loops first, or when it is
 * stopped. The supervisor calls every waiter of an instance on each of its state changes.
 */
export function waitReady(m: Managed): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (m.rec.state === 'ready') {
        m.waiters.delete(check);
        resolve();
      } else if (m.rec.state === 'crash-loop') {
        m.waiters.delete(check);
        reject(new CrashLoopError(m.rec));
      } else if (m.stopping || m.rec.state === 'stopped') {
        m.waiters.delete(check);
        reject(new PlatformError('STOPPED', `${m.rec.id} was stopped before it became ready`));
      }
    };
    m.waiters.add(check);
    check();
  });
}
