/**
 * Runs a scenario: auth and setup, then one generator per worker thread (in-process when one is
 * enough), folding their per-second deltas into one Aggregate, evaluating abortOnFail thresholds
 * as it goes, and finally every threshold.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { abortingFailures, evaluateThresholds, type ThresholdResult } from './evaluate.ts';
import {
  defaultMaxInFlight,
  Generator,
  type GeneratorConfig,
  loadHttpClient,
  peakRatePerSecond,
} from './generator.ts';
import { loadGrpcCodecs } from './grpc-client.ts';
import {
  Aggregate,
  decodeHistogram,
  encodeHistogram,
  type IntervalDelta,
  newHistogram,
  type TimelinePoint,
} from './metrics.ts';
import type { Scenario } from './scenario.ts';
import { arrivalSchedule, vuTarget } from './schedule.ts';
import { obtainToken, runSetup } from './setup.ts';

/** One worker comfortably sustains this many arrivals per second on a laptop core. */
const RATE_PER_WORKER = 4000;

export interface RunOptions {
  target: string;
  /** Worker threads; default from the scenario, else derived from the rate. */
  workers?: number | undefined;
  env?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Called once per completed second. */
  onInterval?: (point: TimelinePoint, agg: Aggregate, elapsedMs: number) => void;
  /** Called for notable events (auth, setup, workers). */
  onEvent?: (message: string) => void;
}

export interface RunResult {
  scenario: Scenario;
  target: string;
  workers: number;
  openModel: boolean;
  startedAt: string;
  plannedMs: number;
  elapsedMs: number;
  aggregate: Aggregate;
  thresholds: ThresholdResult[];
  aborted: { reason: string; by: 'threshold' | 'signal' } | null;
}

export function plannedDurationMs(ex: Scenario['executor']): number {
  return ex.type === 'ramping-vus' ? vuTarget(ex).durationMs : arrivalSchedule(ex).durationMs;
}

/** The most connections the run may open at once, over every worker. */
export function plannedConnections(ex: Scenario['executor']): number {
  if (ex.type === 'ramping-vus') return ex.connections ?? vuTarget(ex).max;
  return ex.connections ?? ex.maxInFlight ?? defaultMaxInFlight(peakRatePerSecond(ex));
}

export function chooseWorkers(scenario: Scenario, requested: number | undefined): number {
  const cores = Math.max(1, availableParallelism());
  const ex = scenario.executor;
  const wanted = requested ?? ex.workers ?? Math.ceil(peakRatePerSecond(ex) / RATE_PER_WORKER);
  return Math.min(cores, Math.max(1, wanted));
}

export async function runLoad(scenario: Scenario, opts: RunOptions): Promise<RunResult> {
  const env = opts.env ?? {};
  const note = opts.onEvent ?? (() => {});
  let token: string | undefined;
  if (scenario.auth) {
    const auth = await obtainToken(opts.target, scenario.auth);
    token = auth.token;
    note(`authenticated as ${auth.email}`);
  }
  const data = scenario.setup.length ? await runSetup(scenario, opts.target, token, env) : scenario.data;
  if (scenario.setup.length) note(`setup done (${scenario.setup.length} step(s))`);

  const workers = chooseWorkers(scenario, opts.workers);
  const openModel = scenario.executor.type !== 'ramping-vus';
  const names = scenario.requests.map((r) => r.name);
  const agg = new Aggregate(names, openModel, workers);
  const plannedMs = plannedDurationMs(scenario.executor);
  const base: Omit<GeneratorConfig, 'startAt' | 'workerIndex'> = {
    scenario,
    target: opts.target,
    token,
    data,
    env,
    workerCount: workers,
  };

  let aborted: RunResult['aborted'] = null;
  let startPerf = 0;
  const stops: (() => void)[] = [];
  const stopAll = () => {
    for (const s of stops) s();
  };
  const onDelta = (delta: IntervalDelta) => {
    const points = agg.add(delta);
    const elapsed = performance.now() - startPerf;
    for (const p of points) opts.onInterval?.(p, agg, Math.min(elapsed, p.t * 1000));
    if (!aborted && points.length > 0) {
      const failing = abortingFailures(scenario.thresholds, agg, scenario, elapsed);
      if (failing.length > 0) {
        const f = failing[0] as ThresholdResult;
        aborted = {
          by: 'threshold',
          reason: `threshold ${f.metric} ${f.expression} failed (actual ${f.actual})`,
        };
        stopAll();
      }
    }
  };
  const onSignal = () => {
    if (!aborted) aborted = { by: 'signal', reason: 'interrupted' };
    stopAll();
  };
  opts.signal?.addEventListener('abort', onSignal, { once: true });

  const startedAt = new Date().toISOString();
  // In this thread in any case: a gRPC method the protos lack is a usage error before anything runs.
  await loadGrpcCodecs(scenario);
  if (workers === 1) await loadHttpClient(scenario.executor, opts.target);
  try {
    if (workers === 1) {
      const startAt = performance.timeOrigin + performance.now() + 5;
      startPerf = startAt - performance.timeOrigin;
      const gen = new Generator({ ...base, workerIndex: 0, startAt }, (rec, inFlight, vus) => {
        onDelta(rec.flush(copyHistogram, inFlight, vus));
      });
      stops.push(() => gen.stop());
      await gen.run();
    } else {
      note(`running on ${workers} worker threads`);
      await runWorkers(base, workers, onDelta, stops, (p) => {
        startPerf = p;
      });
    }
  } finally {
    opts.signal?.removeEventListener('abort', onSignal);
  }
  for (const p of agg.finish()) opts.onInterval?.(p, agg, p.t * 1000);
  const elapsedMs = Math.max(1, performance.now() - startPerf);
  const measuredMs = aborted ? elapsedMs : Math.min(elapsedMs, Math.max(plannedMs, 1));
  return {
    scenario,
    target: opts.target,
    workers,
    openModel,
    startedAt,
    plannedMs,
    elapsedMs: measuredMs,
    aggregate: agg,
    thresholds: evaluateThresholds(scenario.thresholds, agg, scenario, measuredMs),
    aborted,
  };
}

function copyHistogram(h: ReturnType<typeof newHistogram>) {
  const c = newHistogram();
  c.add(h);
  return c;
}

/**
 * Workers run this very module: in the esbuild bundle it is part of the load command's chunk, so
 * the chunk's own URL is the only file guaranteed to exist next to it (sources run it as run.ts).
 */
const WORKER_TAG = 'platformctl-load-worker';

type FromParent = { type: 'start'; startAt: number } | { type: 'stop' };

async function startWorkerThread(): Promise<void> {
  const port = parentPort;
  if (!port) return;
  const { tag: _tag, ...base } = workerData as Omit<GeneratorConfig, 'startAt'> & { tag: string };
  let gen: Generator | undefined;
  port.on('message', (msg: FromParent) => {
    if (msg.type === 'start') {
      gen = new Generator({ ...base, startAt: msg.startAt }, (rec, inFlight, vus) => {
        port.postMessage({ type: 'interval', delta: rec.flush(encodeHistogram, inFlight, vus) });
      });
      void gen.run().then(() => {
        port.postMessage({ type: 'done' });
        port.close();
      });
    } else if (msg.type === 'stop') gen?.stop();
  });
  await loadHttpClient(base.scenario.executor, base.target);
  await loadGrpcCodecs(base.scenario);
  port.postMessage({ type: 'ready' });
}

if (!isMainThread && (workerData as { tag?: string } | null)?.tag === WORKER_TAG) void startWorkerThread();

async function runWorkers(
  base: Omit<GeneratorConfig, 'startAt' | 'workerIndex'>,
  count: number,
  onDelta: (d: IntervalDelta) => void,
  stops: (() => void)[],
  setStart: (perf: number) => void,
): Promise<void> {
  const threads = Array.from(
    { length: count },
    (_, i) =>
      new Worker(new URL(import.meta.url), { workerData: { ...base, workerIndex: i, tag: WORKER_TAG } }),
  );
  for (const w of threads) stops.push(() => w.postMessage({ type: 'stop' }));
  const ready = threads.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        const onMsg = (m: { type: string }) => {
          if (m.type === 'ready') {
            w.off('message', onMsg);
            resolve();
          }
        };
        w.on('message', onMsg);
        w.once('error', reject);
      }),
  );
  const done = threads.map(
    (w) =>
      new Promise<void>((resolve, reject) => {
        w.on('message', (m: { type: string; delta?: IntervalDelta<string> }) => {
          if (m.type === 'interval' && m.delta) onDelta(decodeDelta(m.delta));
          else if (m.type === 'done') resolve();
        });
        w.once('error', reject);
        w.once('exit', () => resolve());
      }),
  );
  try {
    await Promise.all(ready);
    const startAt = performance.timeOrigin + performance.now() + 20;
    setStart(startAt - performance.timeOrigin);
    for (const w of threads) w.postMessage({ type: 'start', startAt });
    await Promise.all(done);
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
  }
}

function decodeDelta(d: IntervalDelta<string>): IntervalDelta {
  const names: IntervalDelta['names'] = {};
  for (const [name, n] of Object.entries(d.names)) {
    names[name] = {
      raw: decodeHistogram(n.raw),
      corrected: n.corrected ? decodeHistogram(n.corrected) : null,
      count: n.count,
      failed: n.failed,
    };
  }
  return { ...d, names };
}
