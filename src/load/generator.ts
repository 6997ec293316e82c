/**
 * The load generator: one instance per worker thread (or in-process for a single worker).
 *
 * Open model (arrival-rate executors): every iteration is started at its intended time, whatever
 * the server does; nothing waits for earlier responses. Latency is measured twice: from the moment
 * undici wrote the request to a socket (raw) and from the intended start (corrected for coordinated
 * omission). When `maxInFlight` iterations are outstanding a due iteration is dropped and counted,
 * like k6's dropped_iterations, instead of silently slowing down.
 *
 * Closed model (ramping-vus): each VU sends, waits for the response, thinks, repeats.
 *
 * Requests go through undici's low-level `dispatch` with a reusable handler object: no streams,
 * promises or response objects on the hot path.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher, Pool } from 'undici';
import { type Http1Controller, Http1Errors, Http1Pool } from '../../runtime/lib/http1-client.ts';
import { GrpcPool, grpcStatusKey, replyJson } from './grpc-client.ts';
import { type IntervalDelta, IntervalRecorder } from './metrics.ts';
import { type CompiledRequest, compileRequest, isFailure, weightedPicker } from './request-plan.ts';
import type { Scenario } from './scenario.ts';
import { type ArrivalSchedule, arrivalSchedule, share, vuTarget } from './schedule.ts';
import type { TemplateContext } from './template.ts';

export interface GeneratorConfig {
  scenario: Scenario;
  target: string;
  token?: string | undefined;
  data: Record<string, (string | number | boolean)[]>;
  env: Record<string, string | undefined>;
  workerIndex: number;
  workerCount: number;
  /** Start of the run as an epoch time in ms (performance.timeOrigin + performance.now()). */
  startAt: number;
}

type PoolClass = typeof Pool;
let UndiciPool: PoolClass | undefined;

/** Whether a run of this scenario against this target needs undici (see `client` in the scenario). */
export function needsUndici(ex: Scenario['executor'], target: string): boolean {
  const maxThroughput = ex.type === 'ramping-vus' && ex.thinkTime === 0;
  return !(target.startsWith('http:') && (ex.client === 'fast' || (ex.client === 'auto' && maxThroughput)));
}

/**
 * Loads undici when the run needs it. It is imported on demand because compiling its WASM HTTP
 * parser costs start-up CPU a max-throughput run (which uses the lean client) does not need.
 */
export async function loadHttpClient(ex: Scenario['executor'], target: string): Promise<void> {
  if (needsUndici(ex, target)) UndiciPool ??= (await import('undici')).Pool;
}

/** Default bound on outstanding iterations: a 2 s stall at the peak rate before dropping. */
export function defaultMaxInFlight(peakPerSecond: number): number {
  return Math.min(20_000, Math.max(50, Math.ceil(peakPerSecond * 2)));
}

export function peakRatePerSecond(ex: Scenario['executor']): number {
  if (ex.type === 'constant-arrival-rate') return (ex.rate * 1000) / ex.timeUnit;
  if (ex.type === 'ramping-arrival-rate') {
    return (Math.max(ex.startRate, ...ex.stages.map((s) => s.target)) * 1000) / ex.timeUnit;
  }
  return 0;
}

/** The shared client's timeouts are reported as ETIMEDOUT, as the max-throughput mode always did. */
const TIMEOUT_CODES = new Set<string>([
  Http1Errors.CONNECT_TIMEOUT,
  Http1Errors.HEADERS_TIMEOUT,
  Http1Errors.BODY_TIMEOUT,
]);

/** undici's controller, or the shared HTTP/1.1 client's (max-throughput mode). */
type DispatchController =
  | Parameters<NonNullable<Dispatcher.DispatchHandler['onRequestStart']>>[0]
  | Http1Controller;

/** One outstanding request; reused by its VU in the closed model. */
class Exchange implements Dispatcher.DispatchHandler {
  req!: CompiledRequest;
  intended = 0;
  sentAt = 0;
  status = 0;
  chunks: Buffer[] = [];
  readonly gen: Generator;
  readonly vu: Vu | null;

  constructor(gen: Generator, vu: Vu | null) {
    this.gen = gen;
    this.vu = vu;
  }

  onRequestStart(_c: DispatchController | null): void {
    this.sentAt = performance.now();
  }

  onResponseStart(_c: DispatchController | null, statusCode: number): void {
    this.status = statusCode;
  }

  get wantsBody(): boolean {
    return this.req.needsBody;
  }

  onResponseData(_c: DispatchController | null, chunk: Buffer): void {
    if (this.req.needsBody) this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    this.gen.completed(this, null);
  }

  onResponseError(_c: DispatchController | null, err: Error): void {
    this.gen.completed(this, err);
  }
}

interface Vu {
  id: number;
  iter: number;
  stopping: boolean;
  exchange: Exchange;
  ctx: TemplateContext;
}

export class Generator {
  readonly recorder: IntervalRecorder;
  private readonly cfg: GeneratorConfig;
  private readonly pool: Pool | null;
  private readonly fast: Http1Pool | null;
  private readonly grpc: GrpcPool | null;
  private readonly requests: CompiledRequest[];
  private readonly pick: () => number;
  private readonly origin: number;
  private readonly open: boolean;
  private readonly onInterval: (r: IntervalRecorder, inFlight: number, vus: number) => void;
  private inFlight = 0;
  private maxInFlight = Number.POSITIVE_INFINITY;
  private schedulingDone = false;
  private stopped = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private finish!: () => void;
  private readonly vus: Vu[] = [];
  private activeVus = 0;
  private nextVuId = 1;
  private readonly openCtx: TemplateContext;
  private readonly timeoutMs: number;

  constructor(
    cfg: GeneratorConfig,
    onInterval: (r: IntervalRecorder, inFlight: number, vus: number) => void,
  ) {
    this.cfg = cfg;
    this.onInterval = onInterval;
    const sc = cfg.scenario;
    const ex = sc.executor;
    this.open = ex.type !== 'ramping-vus';
    this.timeoutMs = sc.timeoutMs;
    const input = { headers: sc.headers, token: cfg.token, timeoutMs: sc.timeoutMs };
    this.requests = sc.requests.map((r, i) => compileRequest(r, i, input));
    this.pick = weightedPicker(sc.requests.map((r) => r.weight));
    this.recorder = new IntervalRecorder(
      sc.requests.map((r) => r.name),
      this.open,
    );
    let connections: number;
    if (ex.type === 'ramping-vus') {
      connections = ex.connections ?? Math.max(1, share(vuTarget(ex).max, cfg.workerIndex, cfg.workerCount));
    } else {
      const maxTotal = ex.maxInFlight ?? defaultMaxInFlight(peakRatePerSecond(ex));
      this.maxInFlight = Math.max(1, share(maxTotal, cfg.workerIndex, cfg.workerCount));
      connections = ex.connections ?? this.maxInFlight;
    }
    const useFast = !needsUndici(ex, cfg.target);
    if (!useFast && !UndiciPool) throw new Error('loadHttpClient() must run before the generator is created');
    // The same lean HTTP/1.1 client the gateway proxies with (runtime/lib/http1-client.ts); it
    // needs neither the response headers nor, unless a check reads it, the body.
    this.fast = useFast
      ? new Http1Pool(cfg.target, {
          connections,
          pipelining: ex.pipelining,
          connectTimeoutMs: Math.min(sc.timeoutMs, 10_000),
          headersTimeoutMs: sc.timeoutMs,
          bodyTimeoutMs: sc.timeoutMs,
          keepAliveTimeoutMs: 30_000,
          parseHeaders: false,
        })
      : null;
    this.pool = useFast
      ? null
      : new (UndiciPool as PoolClass)(cfg.target, {
          connections,
          pipelining: ex.pipelining,
          keepAliveTimeout: 30_000,
          headersTimeout: sc.timeoutMs,
          bodyTimeout: sc.timeoutMs,
          connect: { timeout: Math.min(sc.timeoutMs, 10_000) },
        });
    // HTTP/2 multiplexes: a couple of sessions per worker carry any number of calls.
    this.grpc = this.requests.some((r) => r.grpc)
      ? new GrpcPool(cfg.target, ex.connections ?? 2, sc.timeoutMs)
      : null;
    this.origin = cfg.startAt - performance.timeOrigin;
    this.schedule = ex.type === 'ramping-vus' ? null : arrivalSchedule(ex);
    this.openCtx = { vu: 0, iter: 0, data: cfg.data, env: cfg.env };
  }

  /** Runs until the executor's duration is over and in-flight requests are answered (or stop()). */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.finish = resolve;
      const wait = Math.max(0, this.origin - performance.now());
      setTimeout(() => {
        this.scheduleFlush(0);
        if (this.open) this.tick();
        else this.startClosed();
      }, wait);
    });
  }

  /** Stops at once (abortOnFail, Ctrl-C): no new iterations, in-flight requests are cancelled. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.schedulingDone = true;
    clearTimeout(this.tickTimer);
    this.fast?.destroy();
    this.grpc?.destroy();
    void this.pool?.destroy().catch(() => {});
    this.end();
  }

  /** Index of the interval being recorded (seconds since the start). */
  private currentInterval = 0;

  private scheduleFlush(index: number): void {
    if (this.ended) return;
    this.currentInterval = index;
    const due = this.origin + (index + 1) * 1000;
    this.flushTimer = setTimeout(
      () => {
        this.onInterval(this.recorder, this.inFlight, this.activeVus);
        this.scheduleFlush(index + 1);
      },
      Math.max(0, due - performance.now()),
    );
  }

  // ---- open model ---------------------------------------------------------------------------
  private readonly schedule: ArrivalSchedule | null;
  private nextIteration = 0;

  private tick = (): void => {
    const sched = this.schedule;
    if (!sched || this.stopped) return;
    const now = performance.now() - this.origin;
    const due = sched.dueBy(now);
    const { workerIndex: k, workerCount: n } = this.cfg;
    while (this.nextIteration < due) {
      const i = this.nextIteration++;
      if (i % n !== k) continue;
      this.recorder.iterations++;
      if (this.inFlight >= this.maxInFlight) {
        this.recorder.dropped++;
        continue;
      }
      this.openCtx.iter = i;
      this.openCtx.vu = (this.inFlight % this.maxInFlight) + 1;
      const intendedRel = sched.timeOf(i);
      // Lateness of the generator itself (timer granularity, a starved CPU), not of the server.
      const lag = now - intendedRel;
      const rec = this.recorder;
      if (lag > rec.lagMax) rec.lagMax = lag;
      rec.lagSum += lag;
      rec.lagCount++;
      const ex = new Exchange(this, null);
      this.send(ex, this.requests[this.pick()] as CompiledRequest, this.origin + intendedRel, this.openCtx);
    }
    if (this.nextIteration >= sched.total) {
      this.schedulingDone = true;
      this.maybeEnd();
      return;
    }
    // Sleep until this worker's next iteration is due (timers fire no sooner than 1 ms).
    let next = this.nextIteration;
    while (next % n !== k && next < sched.total) next++;
    const wait = sched.timeOf(next) - (performance.now() - this.origin);
    if (wait > 1) this.tickTimer = setTimeout(this.tick, Math.min(wait, 1000));
    else this.tickTimer = setTimeout(this.tick, 0);
  };

  // ---- closed model -------------------------------------------------------------------------
  private startClosed(): void {
    const ex = this.cfg.scenario.executor;
    if (ex.type !== 'ramping-vus') return;
    const target = vuTarget(ex);
    const think = ex.thinkTime;
    const thinkMs =
      typeof think === 'number' ? () => think : () => think.min + Math.random() * (think.max - think.min);
    this.thinkMs = typeof think === 'number' && think === 0 ? null : thinkMs;
    const control = () => {
      if (this.stopped) return;
      const t = performance.now() - this.origin;
      if (t >= target.durationMs) {
        this.schedulingDone = true;
        for (const vu of this.vus) vu.stopping = true;
        this.maybeEnd();
        return;
      }
      const want = share(target.at(t), this.cfg.workerIndex, this.cfg.workerCount);
      let running = this.vus.filter((v) => !v.stopping).length;
      while (running < want) {
        const vu: Vu = {
          id: this.nextVuId++,
          iter: 0,
          stopping: false,
          exchange: undefined as unknown as Exchange,
          ctx: { vu: 0, iter: 0, data: this.cfg.data, env: this.cfg.env },
        };
        vu.ctx.vu = vu.id;
        vu.exchange = new Exchange(this, vu);
        this.vus.push(vu);
        this.activeVus++;
        running++;
        this.iterate(vu);
      }
      for (let i = this.vus.length - 1; i >= 0 && running > want; i--) {
        const vu = this.vus[i] as Vu;
        if (!vu.stopping) {
          vu.stopping = true;
          running--;
        }
      }
      this.tickTimer = setTimeout(control, Math.min(100, Math.max(1, target.durationMs - t)));
    };
    control();
  }

  private thinkMs: (() => number) | null = null;

  private iterate(vu: Vu): void {
    if (vu.stopping || this.stopped) {
      this.retire(vu);
      return;
    }
    vu.ctx.iter = vu.iter++;
    this.recorder.iterations++;
    this.send(vu.exchange, this.requests[this.pick()] as CompiledRequest, performance.now(), vu.ctx);
  }

  private retire(vu: Vu): void {
    const i = this.vus.indexOf(vu);
    if (i >= 0) {
      this.vus.splice(i, 1);
      this.activeVus--;
    }
    this.maybeEnd();
  }

  // ---- both ---------------------------------------------------------------------------------
  private send(ex: Exchange, req: CompiledRequest, intended: number, ctx: TemplateContext): void {
    ex.req = req;
    ex.intended = intended;
    ex.sentAt = 0;
    ex.status = 0;
    if (req.needsBody) ex.chunks = [];
    this.inFlight++;
    let opts: ReturnType<CompiledRequest['options']>;
    try {
      opts = req.options(ctx);
    } catch (err) {
      this.completed(ex, err as Error);
      return;
    }
    if (req.grpc) this.grpc?.dispatch(opts, ex);
    else if (this.fast) this.fast.dispatch(opts, ex, req.static);
    else this.pool?.dispatch(opts as Dispatcher.DispatchOptions, ex);
  }

  /** Called by an Exchange when its response ended or failed. */
  completed(ex: Exchange, err: Error | null): void {
    this.inFlight--;
    if (this.stopped) {
      if (ex.vu) this.retire(ex.vu);
      return;
    }
    const now = performance.now();
    const req = ex.req;
    if (err) {
      const raw = (err as NodeJS.ErrnoException).code ?? err.name;
      const code = TIMEOUT_CODES.has(raw) ? 'ETIMEDOUT' : raw;
      this.recorder.recordError(req.index, code);
      for (const c of req.checks) this.recorder.check(`${req.name}: ${c.name}`, false);
    } else {
      const sent = ex.sentAt || ex.intended;
      const failed = isFailure(req, ex.status);
      const status = req.grpc ? grpcStatusKey(ex.status) : ex.status;
      this.recorder.record(req.index, now - sent, now - Math.min(ex.intended, sent), status, failed);
      if (req.checks.length > 0) this.runChecks(ex);
    }
    if (ex.vu) {
      const vu = ex.vu;
      if (this.thinkMs) setTimeout(() => this.iterate(vu), this.thinkMs());
      else if (err) setImmediate(() => this.iterate(vu));
      else this.iterate(vu);
    } else if (this.schedulingDone) this.maybeEnd();
  }

  private runChecks(ex: Exchange): void {
    const req = ex.req;
    const bytes = req.needsBody ? Buffer.concat(ex.chunks) : undefined;
    const body = !bytes ? '' : req.grpc ? replyJson(req.grpc, bytes) : bytes.toString('utf8');
    let parsed: unknown;
    let parsedOnce = false;
    const json = () => {
      if (!parsedOnce) {
        parsedOnce = true;
        try {
          parsed = JSON.parse(body);
        } catch {
          parsed = undefined;
        }
      }
      return parsed;
    };
    for (const c of req.checks) this.recorder.check(`${req.name}: ${c.name}`, c.test(ex.status, body, json));
  }

  private maybeEnd(): void {
    if (this.schedulingDone && this.inFlight === 0 && (this.open || this.activeVus === 0)) this.end();
    else if (this.schedulingDone && !this.graceTimer) {
      // In-flight requests get at most the request timeout to finish, then the run ends anyway.
      this.graceTimer = setTimeout(() => this.stop(), this.timeoutMs + 1000);
    }
  }

  private graceTimer: NodeJS.Timeout | undefined;
  private ended = false;

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.tickTimer);
    clearTimeout(this.graceTimer);
    // The last interval is a tail when it covered under half a second.
    this.recorder.partial = performance.now() - this.origin - this.currentInterval * 1000 < 500;
    this.onInterval(this.recorder, this.inFlight, this.activeVus);
    this.fast?.destroy();
    this.grpc?.close();
    void this.pool?.close().catch(() => {});
    this.finish();
  }
}

/** The delta shape posted by workers: histograms as compressed base64. */
export type EncodedDelta = IntervalDelta<string>;
