/**
 * The gateway's two per-request series — `gateway_requests_total` (by route, service, version and
 * code) and `gateway_request_duration_seconds` (by route, service and version) — kept in plain
 * numbers and handed to prom-client's registry only when it is scraped.
 *
 * Why not prom-client's Counter and Histogram here: even through cached label children they
 * validate the label set, build a hash string from it and look the bound of the bucket up by its
 * string form on every call, which came to ~1.1 µs of CPU per request for the pair (measured in
 * a loop; 2 % of the gateway's CPU per request under load). Here a request costs three Map
 * lookups by strings the gateway already holds, one by a number, and a bucket increment. What a
 * scrape sees is the same text prom-client writes for the same observations
 * (runtime/gateway/test/red-series.test.ts compares them), so Prometheus, dashboards and
 * platformctl's canary analysis read these series as before.
 */
import type { Metric, Registry } from 'prom-client';

interface CountValue {
  labels: { route: string; service: string; version: string; code: string };
  value: number;
}

class Series {
  readonly labels: { route: string; service: string; version: string };
  readonly codes = new Map<number, CountValue>();
  /** Observations per bucket, not cumulative (prom-client's own layout); above the last: only count. */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(route: string, service: string, version: string, bucketCount: number) {
    this.labels = { route, service, version };
    this.buckets = new Float64Array(bucketCount);
  }
}

/** What prom-client's registry reads from a metric: `get()` (and the faster `getForPromString()`). */
interface ScrapedMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<unknown>;
  getForPromString(): Promise<unknown>;
  reset(): void;
}

export interface RedSeriesOptions {
  requestsName: string;
  requestsHelp: string;
  durationName: string;
  durationHelp: string;
  /** Upper bounds of the latency buckets, in seconds, ascending. */
  buckets: readonly number[];
}

export class RedSeries {
  readonly #bounds: readonly number[];
  readonly #byRoute = new Map<string, Map<string, Map<string, Series>>>();
  /** Every series in first-seen order (the order prom-client writes them in). */
  readonly #series: Series[] = [];
  /** Every (series, code) count in first-seen order. */
  readonly #counts: CountValue[] = [];
  readonly #opts: RedSeriesOptions;

  constructor(opts: RedSeriesOptions) {
    this.#opts = opts;
    this.#bounds = [...opts.buckets];
  }

  /** Counts one answered request and its duration. */
  observe(route: string, service: string, version: string, code: number, seconds: number): void {
    let byService = this.#byRoute.get(route);
    if (!byService) {
      byService = new Map();
      this.#byRoute.set(route, byService);
    }
    let byVersion = byService.get(service);
    if (!byVersion) {
      byVersion = new Map();
      byService.set(service, byVersion);
    }
    let s = byVersion.get(version);
    if (!s) {
      s = new Series(route, service, version, this.#bounds.length);
      byVersion.set(version, s);
      this.#series.push(s);
    }
    let c = s.codes.get(code);
    if (!c) {
      c = { labels: { route, service, version, code: String(code) }, value: 0 };
      s.codes.set(code, c);
      this.#counts.push(c);
    }
    c.value++;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    if (i < bounds.length) s.buckets[i] = (s.buckets[i] as number) + 1;
    s.sum += seconds;
    s.count++;
  }

  /** Registers both series with `registry` (in place of prom-client Counter/Histogram objects). */
  register(registry: Registry): void {
    registry.registerMetric(this.#requestsMetric() as unknown as Metric);
    registry.registerMetric(this.#durationMetric() as unknown as Metric);
  }

  #reset(): void {
    this.#byRoute.clear();
    this.#series.length = 0;
    this.#counts.length = 0;
  }

  #requestsMetric(): ScrapedMetric {
    const { requestsName: name, requestsHelp: help } = this.#opts;
    const values = () => ({
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      values: this.#counts.map((c) => ({ labels: c.labels, value: c.value })),
    });
    return {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      get: async () => values(),
      getForPromString: async () => values(),
      reset: () => this.#reset(),
    };
  }

  #durationMetric(): ScrapedMetric {
    const { durationName: name, durationHelp: help } = this.#opts;
    const bucketName = `${name}_bucket`;
    /** Bucket lines carry `le` as their own label and the series' labels as shared ones (prom-client's shape). */
    const values = (splay: boolean) => {
      const out: {
        labels: Record<string, string | number>;
        sharedLabels?: object;
        value: number;
        metricName: string;
      }[] = [];
      const line = (
        own: Record<string, string | number>,
        value: number,
        metricName: string,
        shared: object,
      ) =>
        splay
          ? out.push({ labels: { ...own, ...shared }, value, metricName })
          : out.push({ labels: own, sharedLabels: shared, value, metricName });
      for (const s of this.#series) {
        let acc = 0;
        this.#bounds.forEach((le, i) => {
          acc += s.buckets[i] as number;
          line({ le }, acc, bucketName, s.labels);
        });
        line({ le: '+Inf' }, s.count, bucketName, s.labels);
        line({}, s.sum, `${name}_sum`, s.labels);
        line({}, s.count, `${name}_count`, s.labels);
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values: out };
    };
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => values(true),
      getForPromString: async () => values(false),
      reset: () => this.#reset(),
    };
  }
}
