/**
 * Prometheus metrics of the gateway. The two series every request touches are kept by RedSeries
 * (red-series.ts) and exposed through the same registry; the rare events (ejections, 429s,
 * retries, unserved requests) use prom-client's counters directly.
 */
import { Counter, collectDefaultMetrics, Registry } from 'prom-client';
import { RedSeries } from './red-series.ts';

export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class GatewayMetrics {
  readonly registry: Registry;
  readonly #red: RedSeries;
  readonly #ejections: Counter<'service' | 'instance'>;
  readonly #rateLimited: Counter<'route'>;
  readonly #retries: Counter<'service'>;
  readonly #unserved: Counter<'service' | 'reason'>;
  readonly #logDropped: Counter;

  constructor(opts: { defaultLabels?: Record<string, string>; registry?: Registry } = {}) {
    this.registry = opts.registry ?? new Registry();
    if (opts.defaultLabels) this.registry.setDefaultLabels(opts.defaultLabels);
    if (!opts.registry) collectDefaultMetrics({ register: this.registry });
    this.#red = new RedSeries({
      requestsName: 'gateway_requests_total',
      requestsHelp:
        'Requests answered by the gateway, by route prefix, upstream service, version and status code',
      durationName: 'gateway_request_duration_seconds',
      durationHelp: 'Time from request to the end of the response, as the gateway saw it',
      buckets: DURATION_BUCKETS,
    });
    this.#red.register(this.registry);
    this.#ejections = new Counter({
      name: 'gateway_upstream_ejections_total',
      help: 'Upstream instances ejected by the circuit breaker',
      labelNames: ['service', 'instance'],
      registers: [this.registry],
    });
    this.#rateLimited = new Counter({
      name: 'gateway_rate_limited_total',
      help: 'Requests refused with 429 by the per-client rate limit',
      labelNames: ['route'],
      registers: [this.registry],
    });
    this.#retries = new Counter({
      name: 'gateway_upstream_retries_total',
      help: 'Requests retried on another instance',
      labelNames: ['service'],
      registers: [this.registry],
    });
    this.#unserved = new Counter({
      name: 'gateway_unserved_requests_total',
      help: 'Requests answered 503 because no instance could serve them, by reason',
      labelNames: ['service', 'reason'],
      registers: [this.registry],
    });
    this.#logDropped = new Counter({
      name: 'gateway_access_log_dropped_lines_total',
      help: "Log lines (access lines and the gateway's own) dropped because the log buffer was full",
      registers: [this.registry],
    });
  }

  /** Lines the log destination dropped because its buffer was full (log-destination.ts). */
  logLinesDropped(lines: number): void {
    this.#logDropped.inc(lines);
  }

  /** A request no instance could serve, and why (no ready instance, all ejected, a backend down). */
  unserved(service: string, reason: string): void {
    this.#unserved.inc({ service, reason });
  }

  /** One answered request: its count by code and its duration (RED series, per route and version). */
  observe(route: string, service: string, version: string, code: number, seconds: number): void {
    this.#red.observe(route, service, version, code, seconds);
  }

  ejected(service: string, instance: string): void {
    this.#ejections.inc({ service, instance });
  }

  rateLimited(route: string): void {
    this.#rateLimited.inc({ route });
  }

  retried(service: string): void {
    this.#retries.inc({ service });
  }
}
