/**
 * Prometheus metrics (prom-client) with one registry per service instance: RED per route
 * (`http_requests_total`, `http_request_duration_seconds`) plus the default process metrics.
 * Route labels are the route *pattern* (`/content/:id`), never the raw URL, to bound cardinality.
 * The default metrics are registered when the service is about to be scraped, not at
 * construction: making them (an event-loop delay monitor, a GC observer, reads of /proc) cost
 * ~3 ms of CPU and ~6 ms of every start before readiness (issue 21).
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { type LoadLater, loadLater } from './load-later.ts';

export interface ServiceMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'code'>;
  duration: Histogram<'method' | 'route' | 'code'>;
  /** Records one finished request. */
  observe(method: string, route: string, code: number, seconds: number): void;
  /**
   * The default process metrics (CPU, memory, handles, event-loop lag, GC), registered once: at
   * the first `get()` (the kit asks at every scrape) or by `warmUp` a moment after readiness.
   */
  defaults: LoadLater<void>;
}

/** Creates the registry and RED metrics, labelled with service/version/instance (see `defaults`). */
export function createMetrics(labels: {
  service: string;
  version: string;
  instance: string;
}): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'code'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds by method, route pattern and status code',
    labelNames: ['method', 'route', 'code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    requests,
    duration,
    observe(method, route, code, seconds) {
      const l = { method, route, code: String(code) };
      requests.inc(l);
      duration.observe(l, seconds);
    },
    defaults: loadLater(async () => {
      collectDefaultMetrics({ register: registry });
    }),
  };
}
