/** Steady open-model HTTP traffic for canary tests and benchmarks: every response is recorded. */
import { sleep } from '../../src/core/sleep.ts';

export interface TrafficSample {
  /** When the request was sent and when it completed (ms since the epoch). */
  sent: number;
  done: number;
  /** HTTP status, 0 when the request failed without one. */
  status: number;
  /** The `x-served-by` header: the version that answered. */
  version: string;
}

/**
 * Sends `rps` requests per second to `url` on a fixed schedule (never waiting for answers, so a
 * slow server cannot slow the load down) until `stop()` or `maxSeconds` of requests.
 */
export function steadyTraffic(
  url: string,
  rps: number,
  opts: { headers?: Record<string, string>; maxSeconds: number },
): { samples: TrafficSample[]; stop(): Promise<TrafficSample[]> } {
  const samples: TrafficSample[] = [];
  const pending = new Set<Promise<void>>();
  let stopped = false;
  const loop = (async () => {
    const start = Date.now();
    for (let i = 0; !stopped && i < rps * opts.maxSeconds; i++) {
      const wait = start + (i * 1000) / rps - Date.now();
      if (wait > 0) await sleep(wait);
      const sent = Date.now();
      const p = fetch(url, { headers: opts.headers ?? {} })
        .then(async (r) => {
          await r.arrayBuffer();
          samples.push({
            sent,
            done: Date.now(),
            status: r.status,
            version: r.headers.get('x-served-by') ?? 'none',
          });
        })
        .catch(() => {
          samples.push({ sent, done: Date.now(), status: 0, version: 'none' });
        })
        .finally(() => pending.delete(p));
      pending.add(p);
    }
  })();
  return {
    samples,
    async stop(): Promise<TrafficSample[]> {
      stopped = true;
      await loop;
      await Promise.all([...pending]);
      return samples;
    },
  };
}
