/**
 * Sliding-window RED statistics per (service, version) for canary analysis: requests, errors and
 * latency percentiles. Latencies go into HdrHistograms (3 significant digits, i.e. within 0.1%)
 * per time bucket; a query merges the buckets that cover the window. Two tiers keep memory
 * bounded: 1 s buckets for windows up to a minute, 10 s buckets for windows up to 5 minutes.
 */
import * as hdr from 'hdr-histogram-js';
import {
  MAX_STATS_WINDOW_MS,
  MIN_STATS_WINDOW_MS,
  type StatsReport,
  type WindowStats,
} from '../../contract/gateway-admin.ts';

/** Latencies are recorded in microseconds up to an hour (longer ones are clamped). */
const HIGHEST_US = 3_600_000_000;

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    autoResize: true,
  });
}

class Bucket {
  start = -1;
  requests = 0;
  errors = 0;
  histogram: hdr.Histogram | undefined;

  resetTo(start: number): void {
    this.start = start;
    this.requests = 0;
    this.errors = 0;
    this.histogram?.reset();
  }
}

class Tier {
  readonly #buckets: Bucket[];
  readonly sizeMs: number;

  constructor(sizeMs: number, count: number) {
    this.sizeMs = sizeMs;
    this.#buckets = Array.from({ length: count }, () => new Bucket());
  }

  record(now: number, latencyUs: number, error: boolean): void {
    const start = now - (now % this.sizeMs);
    const b = this.#buckets[Math.floor(start / this.sizeMs) % this.#buckets.length] as Bucket;
    if (b.start !== start) b.resetTo(start);
    b.requests++;
    if (error) b.errors++;
    b.histogram ??= newHistogram();
    b.histogram.recordValue(latencyUs);
  }

  /** Buckets that overlap (now - windowMs, now]. */
  *covering(now: number, windowMs: number): Iterable<Bucket> {
    const from = now - windowMs;
    for (const b of this.#buckets)
      if (b.start >= 0 && b.start + this.sizeMs > from && b.start <= now) yield b;
  }
}

class Series {
  readonly fine = new Tier(1000, 61);
  readonly coarse = new Tier(10_000, 31);

  record(now: number, latencyUs: number, error: boolean): void {
    this.fine.record(now, latencyUs, error);
    this.coarse.record(now, latencyUs, error);
  }

  tier(windowMs: number): Tier {
    return windowMs <= 60_000 ? this.fine : this.coarse;
  }
}

/** One process's window in a form another process can merge (cluster mode). */
export interface StatsDump {
  windowMs: number;
  series: {
    service: string;
    version: string;
    requests: number;
    errors: number;
    histogram: string | undefined;
  }[];
}

interface Part {
  requests: number;
  errors: number;
  histogram: hdr.Histogram | undefined;
}

function clampWindow(windowMs: number): number {
  return Math.min(Math.max(windowMs, MIN_STATS_WINDOW_MS), MAX_STATS_WINDOW_MS);
}

export class StatsWindow {
  readonly #series = new Map<string, Map<string, Series>>();
  readonly #scratch = newHistogram();

  record(service: string, version: string, latencyMs: number, error: boolean, now = Date.now()): void {
    let versions = this.#series.get(service);
    if (!versions) {
      versions = new Map();
      this.#series.set(service, versions);
    }
    let series = versions.get(version);
    if (!series) {
      series = new Series();
      versions.set(version, series);
    }
    const us = Math.min(HIGHEST_US, Math.max(1, Math.round(latencyMs * 1000)));
    series.record(now, us, error);
  }

  report(windowMs: number, filter?: { service?: string }, now = Date.now()): StatsReport {
    const window = clampWindow(windowMs);
    const parts = new Map<string, Map<string, Part[]>>();
    for (const [service, versions] of this.#series) {
      if (filter?.service && filter.service !== service) continue;
      const perVersion = new Map<string, Part[]>();
      for (const [version, series] of versions)
        perVersion.set(version, [...series.tier(window).covering(now, window)]);
      parts.set(service, perVersion);
    }
    return this.#build(parts, window);
  }

  dump(windowMs: number, filter?: { service?: string }, now = Date.now()): StatsDump {
    const window = clampWindow(windowMs);
    const series: StatsDump['series'] = [];
    for (const [service, versions] of this.#series) {
      if (filter?.service && filter.service !== service) continue;
      for (const [version, s] of versions) {
        const h = newHistogram();
        let requests = 0;
        let errors = 0;
        for (const b of s.tier(window).covering(now, window)) {
          requests += b.requests;
          errors += b.errors;
          if (b.histogram && b.requests > 0) h.add(b.histogram);
        }
        series.push({
          service,
          version,
          requests,
          errors,
          histogram: requests > 0 ? hdr.encodeIntoCompressedBase64(h) : undefined,
        });
      }
    }
    return { windowMs: window, series };
  }

  /** Merges dumps of several processes into one report. */
  merge(dumps: readonly StatsDump[]): StatsReport {
    const parts = new Map<string, Map<string, Part[]>>();
    let window = 10_000;
    for (const d of dumps) {
      window = d.windowMs;
      for (const s of d.series) {
        let versions = parts.get(s.service);
        if (!versions) {
          versions = new Map();
          parts.set(s.service, versions);
        }
        const list = versions.get(s.version) ?? [];
        list.push({
          requests: s.requests,
          errors: s.errors,
          histogram: s.histogram ? hdr.decodeFromCompressedBase64(s.histogram) : undefined,
        });
        versions.set(s.version, list);
      }
    }
    return this.#build(parts, window);
  }

  #build(parts: Map<string, Map<string, Part[]>>, window: number): StatsReport {
    const services: StatsReport['services'] = {};
    for (const [service, versions] of parts) {
      const perVersion: Record<string, WindowStats> = {};
      const all: Part[] = [];
      for (const [version, list] of versions) {
        all.push(...list);
        perVersion[version] = this.#summarise(list, window);
      }
      services[service] = { total: this.#summarise(all, window), versions: perVersion };
    }
    return { windowMs: window, services };
  }

  #summarise(buckets: readonly Part[], windowMs: number): WindowStats {
    const h = this.#scratch;
    h.reset();
    let requests = 0;
    let errors = 0;
    for (const b of buckets) {
      requests += b.requests;
      errors += b.errors;
      if (b.histogram && b.requests > 0) h.add(b.histogram);
    }
    const ms = (p: number) => (requests === 0 ? 0 : Math.round(h.getValueAtPercentile(p)) / 1000);
    return {
      requests,
      errors,
      errorRate: requests === 0 ? 0 : errors / requests,
      rps: requests / (windowMs / 1000),
      p50: ms(50),
      p95: ms(95),
      p99: ms(99),
      max: requests === 0 ? 0 : Math.round(h.maxValue) / 1000,
    };
  }
}
