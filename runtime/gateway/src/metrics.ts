/**
 * Prometheus metrics of the gateway. Label children are cached per label combination because
 * prom-client hashes the label object on every call, which shows up in the proxy's hot path.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Children {
  count: Counter.Internal;
  duration: Histogram.Internal<string>;
}

export class GatewayMetrics {
  readonly registry: Registry;
  readonly #requests: Counter<'route' | 'service' | 'version' | 'code'>;
  readonly #duration: Histogram<'route' | 'service' | 'version'>;
  readonly #ejections: Counter<'service' | 'instance'>;
  readonly #rateLimited: Counter<'route'>;
  readonly #retries: Counter<'service'>;
  readonly #unserved: Counter<'service' | 'reason'>;
  readonly #children = new Map<string, Children>();

  constructor(opts: { defaultLabels?: Record<string, string>; registry?: Registry } = {}) {
    this.registry = opts.registry ?? new Registry();
    if (opts.defaultLabels) this.registry.setDefaultLabels(opts.defaultLabels);
    if (!opts.registry) collectDefaultMetrics({ register: this.registry });
    this.#requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered by the gateway, by route prefix, upstream service, version and status code',
      labelNames: ['route', 'service', 'version', 'code'],
      registers: [this.registry],
    });
    this.#duration = new Histogram({
      name: 'gateway_request_duration_seconds',
      help: 'Time from request to the end of the response, as the gateway saw it',
      labelNames: ['route', 'service', 'version'],
      buckets: DURATION_BUCKETS,
      registers: [this.registry],
    });
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
  }

  /** A request no instance could serve, and why (no ready instance, all ejected, a backend down). */
  unserved(service: string, reason: string): void {
    this.#unserved.inc({ service, reason });
  }

  observe(route: string, service: string, version: string, code: number, seconds: number): void {
    const durKey = `${route}\u0000${service}\u0000${version}`;
    const key = `${durKey}\u0000${code}`;
    let c = this.#children.get(key);
    if (!c) {
      c = {
        count: this.#requests.labels(route, service, version, String(code)),
        duration: this.#duration.labels(route, service, version),
      };
      this.#children.set(key, c);
    }
    c.count.inc();
    c.duration.observe(seconds);
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
