/**
 * Measurements. Generators record into an `IntervalRecorder` (one HdrHistogram per request name,
 * raw and corrected, microseconds) and hand over a delta every second; the coordinator folds the
 * deltas of every worker into an `Aggregate` (cumulative histograms plus a per-second timeline).
 * Histograms cross worker threads in HdrHistogram's compressed encoding, so merging is exact.
 */
import * as hdr from 'hdr-histogram-js';

type Histogram = hdr.Histogram;

/**
 * A histogram of latencies in microseconds (3 significant digits, sized for 60 s, grows beyond). The plain Int32
 * JS variant: measured here at ~55 ns per record against ~28 ns for the WASM build and ~560 ns
 * for the packed one; WASM's gain is under 1% of a request's cost and it needs async start-up and
 * manual `destroy()` of every histogram, so it is not worth it.
 */
export function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export interface NameDelta<H> {
  raw: H;
  /** From the intended send time; absent for closed-model runs (it equals raw there). */
  corrected: H | null;
  count: number;
  failed: number;
}

/** What one generator measured during one interval. */
export interface IntervalDelta<H = Histogram> {
  /** Interval index (second of the run, from 0). */
  index: number;
  names: Record<string, NameDelta<H>>;
  checks: Record<string, [passes: number, fails: number]>;
  statuses: Record<string, number>;
  iterations: number;
  dropped: number;
  /** How late the generator started iterations versus their schedule (open model), ms. */
  lagMax: number;
  lagSum: number;
  lagCount: number;
  inFlight: number;
  vus: number;
  /** The run ended during this interval: it is shorter than a second. */
  partial: boolean;
  /** Requests the generator itself could not send (no file descriptor, no local port), by code. */
  generatorErrors: Record<string, number>;
}

/**
 * Error codes that mean the generator ran out of its own resources, not that the server failed:
 * out of file descriptors, of kernel buffers, or of local ports for new connections.
 */
export const GENERATOR_ERROR_CODES: ReadonlySet<string> = new Set([
  'EMFILE',
  'ENFILE',
  'ENOBUFS',
  'ENOMEM',
  'EADDRNOTAVAIL',
]);

/** Records one generator's measurements; `flush()` returns the delta and starts a new interval. */
export class IntervalRecorder {
  private readonly names: string[];
  private readonly raw: Histogram[];
  private readonly corrected: (Histogram | null)[];
  private readonly count: number[];
  private readonly failed: number[];
  private checks = new Map<string, [number, number]>();
  private statuses = new Map<string, number>();
  private generatorErrors = new Map<string, number>();
  /** Response counts by HTTP status (an array: no string keys on the hot path). */
  private readonly byStatus = new Uint32Array(600);
  iterations = 0;
  dropped = 0;
  lagMax = 0;
  lagSum = 0;
  lagCount = 0;
  /** Set by the generator before its last flush, which covers less than a second. */
  partial = false;
  private index = 0;

  constructor(names: string[], openModel: boolean) {
    this.names = names;
    this.raw = names.map(() => newHistogram());
    this.corrected = names.map(() => (openModel ? newHistogram() : null));
    this.count = names.map(() => 0);
    this.failed = names.map(() => 0);
  }

  /** Records one response (latencies in ms); `status` is an HTTP status or a key such as `grpc OK`. */
  record(req: number, rawMs: number, correctedMs: number, status: number | string, failed: boolean): void {
    this.raw[req]?.recordValue(toMicros(rawMs));
    this.corrected[req]?.recordValue(toMicros(correctedMs));
    this.count[req] = (this.count[req] ?? 0) + 1;
    if (failed) this.failed[req] = (this.failed[req] ?? 0) + 1;
    if (typeof status === 'number' && status >= 0 && status < 600)
      this.byStatus[status] = (this.byStatus[status] as number) + 1;
    else this.status(String(status));
  }

  /**
   * Records a request that got no response (connection refused, timeout, reset). The generator's
   * own failures (GENERATOR_ERROR_CODES) are kept apart: they say nothing about the server, and
   * counting them as failed requests would blame it for the generator's limits.
   */
  recordError(req: number, code: string): void {
    if (GENERATOR_ERROR_CODES.has(code)) {
      this.generatorErrors.set(code, (this.generatorErrors.get(code) ?? 0) + 1);
      return;
    }
    this.count[req] = (this.count[req] ?? 0) + 1;
    this.failed[req] = (this.failed[req] ?? 0) + 1;
    this.status(code);
  }

  check(name: string, ok: boolean): void {
    let c = this.checks.get(name);
    if (!c) {
      c = [0, 0];
      this.checks.set(name, c);
    }
    c[ok ? 0 : 1]++;
  }

  private status(key: string): void {
    this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
  }

  /**
   * Returns the delta since the last flush, with histograms transformed by `encode` (which must copy
   * or serialise them synchronously: they are reset right after).
   */
  flush<H>(encode: (h: Histogram) => H, inFlight: number, vus: number): IntervalDelta<H> {
    for (let s = 0; s < 600; s++) {
      const n = this.byStatus[s] as number;
      if (n > 0) {
        this.statuses.set(String(s), (this.statuses.get(String(s)) ?? 0) + n);
        this.byStatus[s] = 0;
      }
    }
    const names: Record<string, NameDelta<H>> = {};
    this.names.forEach((name, i) => {
      const count = this.count[i] ?? 0;
      if (count === 0) return;
      const raw = this.raw[i] as Histogram;
      const corrected = this.corrected[i] ?? null;
      names[name] = {
        raw: encode(raw),
        corrected: corrected ? encode(corrected) : null,
        count,
        failed: this.failed[i] ?? 0,
      };
      raw.reset();
      corrected?.reset();
      this.count[i] = 0;
      this.failed[i] = 0;
    });
    const delta: IntervalDelta<H> = {
      index: this.index++,
      names,
      checks: Object.fromEntries(this.checks),
      statuses: Object.fromEntries(this.statuses),
      iterations: this.iterations,
      dropped: this.dropped,
      lagMax: this.lagMax,
      lagSum: this.lagSum,
      lagCount: this.lagCount,
      inFlight,
      vus,
      partial: this.partial,
      generatorErrors: Object.fromEntries(this.generatorErrors),
    };
    this.generatorErrors = new Map();
    this.checks = new Map();
    this.statuses = new Map();
    this.iterations = 0;
    this.dropped = 0;
    this.lagMax = 0;
    this.lagSum = 0;
    this.lagCount = 0;
    return delta;
  }
}

function toMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  return Math.max(us, 1);
}

export const encodeHistogram = (h: Histogram): string => hdr.encodeIntoCompressedBase64(h);
export const decodeHistogram = (s: string): Histogram => hdr.decodeFromCompressedBase64(s);

/** Trend statistics in milliseconds. */
export interface TrendValues {
  avg: number;
  min: number;
  med: number;
  max: number;
  'p(90)': number;
  'p(95)': number;
  'p(99)': number;
  'p(99.9)': number;
  count: number;
}

export function trendOf(h: Histogram): TrendValues {
  const ms = (us: number) => round3(us / 1000);
  const empty = h.totalCount === 0;
  return {
    avg: empty ? 0 : ms(h.mean),
    min: empty ? 0 : ms(h.minNonZeroValue),
    med: percentileMs(h, 50),
    max: ms(h.maxValue),
    'p(90)': percentileMs(h, 90),
    'p(95)': percentileMs(h, 95),
    'p(99)': percentileMs(h, 99),
    'p(99.9)': percentileMs(h, 99.9),
    count: h.totalCount,
  };
}

/**
 * Percentile (ms) of a histogram. HdrHistogram answers with the highest value of the percentile's
 * bucket, which can lie above the largest value recorded (a p99 of 31.09 beside a max of 31.07);
 * no real sample is above the max, so neither is the percentile.
 */
export function percentileMs(h: Histogram, p: number): number {
  return round3(Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000);
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** One second of the run, as shown in progress lines, --out and the HTML report. */
export interface TimelinePoint {
  /** Seconds since the start (end of the interval). */
  t: number;
  requests: number;
  failed: number;
  dropped: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** p99 from the actual send time (open model only; equals p99 otherwise). */
  rawP99: number;
  checksPassed: number;
  checksFailed: number;
  inFlight: number;
  vus: number;
}

interface PerName {
  raw: Histogram;
  corrected: Histogram;
  count: number;
  failed: number;
}

/** Cumulative measurements of a whole run, folded from every worker's deltas. */
export class Aggregate {
  readonly names = new Map<string, PerName>();
  readonly checks = new Map<string, [number, number]>();
  readonly statuses = new Map<string, number>();
  iterations = 0;
  dropped = 0;
  lagMax = 0;
  lagSum = 0;
  lagCount = 0;
  readonly generatorErrors = new Map<string, number>();
  readonly timeline: TimelinePoint[] = [];
  readonly openModel: boolean;
  private readonly workers: number;
  private readonly pending = new Map<number, { deltas: IntervalDelta[] }>();

  constructor(requestNames: string[], openModel: boolean, workers: number) {
    this.openModel = openModel;
    this.workers = workers;
    for (const name of requestNames) {
      this.names.set(name, { raw: newHistogram(), corrected: newHistogram(), count: 0, failed: 0 });
    }
  }

  /** Adds one worker's delta; returns the timeline points completed by it (all workers reported). */
  add(delta: IntervalDelta): TimelinePoint[] {
    for (const [name, d] of Object.entries(delta.names)) {
      const n = this.names.get(name);
      if (!n) continue;
      n.raw.add(d.raw);
      n.corrected.add(d.corrected ?? d.raw);
      n.count += d.count;
      n.failed += d.failed;
    }
    for (const [name, [p, f]] of Object.entries(delta.checks)) {
      const c = this.checks.get(name) ?? [0, 0];
      c[0] += p;
      c[1] += f;
      this.checks.set(name, c);
    }
    for (const [s, n] of Object.entries(delta.statuses))
      this.statuses.set(s, (this.statuses.get(s) ?? 0) + n);
    this.iterations += delta.iterations;
    this.dropped += delta.dropped;
    this.lagMax = Math.max(this.lagMax, delta.lagMax);
    this.lagSum += delta.lagSum;
    this.lagCount += delta.lagCount;
    for (const [code, n] of Object.entries(delta.generatorErrors ?? {}))
      this.generatorErrors.set(code, (this.generatorErrors.get(code) ?? 0) + n);
    const slot = this.pending.get(delta.index) ?? { deltas: [] };
    slot.deltas.push(delta);
    this.pending.set(delta.index, slot);
    return slot.deltas.length >= this.workers ? this.complete(delta.index) : [];
  }

  /** Completes every interval still waiting (at the end of a run, some workers flush fewer). */
  finish(): TimelinePoint[] {
    const out: TimelinePoint[] = [];
    for (const index of [...this.pending.keys()].sort((a, b) => a - b)) out.push(...this.complete(index));
    return out;
  }

  private complete(index: number): TimelinePoint[] {
    const slot = this.pending.get(index);
    if (!slot) return [];
    this.pending.delete(index);
    const raw = newHistogram();
    const corrected = newHistogram();
    let requests = 0;
    let failed = 0;
    let dropped = 0;
    let checksPassed = 0;
    let checksFailed = 0;
    let inFlight = 0;
    let vus = 0;
    for (const d of slot.deltas) {
      for (const n of Object.values(d.names)) {
        raw.add(n.raw);
        corrected.add(n.corrected ?? n.raw);
        requests += n.count;
        failed += n.failed;
      }
      for (const [p, f] of Object.values(d.checks)) {
        checksPassed += p;
        checksFailed += f;
      }
      dropped += d.dropped;
      inFlight += d.inFlight;
      vus += d.vus;
    }
    // The tail after the last full second is in the totals, but as a "per second" point it would
    // draw a fake drop in throughput; keep it only when it is all the run has.
    const tailOnly = slot.deltas.every((d) => d.partial) && this.timeline.length > 0;
    const point: TimelinePoint = {
      t: index + 1,
      requests,
      failed,
      dropped,
      p50: percentileMs(corrected, 50),
      p95: percentileMs(corrected, 95),
      p99: percentileMs(corrected, 99),
      max: round3(corrected.maxValue / 1000),
      rawP99: percentileMs(raw, 99),
      checksPassed,
      checksFailed,
      inFlight,
      vus,
    };
    raw.destroy();
    corrected.destroy();
    if (tailOnly) return [];
    this.timeline.push(point);
    this.timeline.sort((a, b) => a.t - b.t);
    return [point];
  }

  /** Merged histogram (corrected or raw) of the requests whose tags match `filter` (all when empty). */
  merged(kind: 'raw' | 'corrected', match: (name: string) => boolean = () => true): Histogram {
    const h = newHistogram();
    for (const [name, n] of this.names) if (match(name)) h.add(kind === 'raw' ? n.raw : n.corrected);
    return h;
  }

  counts(match: (name: string) => boolean = () => true): { count: number; failed: number } {
    let count = 0;
    let failed = 0;
    for (const [name, n] of this.names) {
      if (!match(name)) continue;
      count += n.count;
      failed += n.failed;
    }
    return { count, failed };
  }

  checkTotals(match: (name: string) => boolean = () => true): { passes: number; fails: number } {
    let passes = 0;
    let fails = 0;
    for (const [key, [p, f]] of this.checks) {
      if (!match(key.split(': ')[0] as string)) continue;
      passes += p;
      fails += f;
    }
    return { passes, fails };
  }
}
