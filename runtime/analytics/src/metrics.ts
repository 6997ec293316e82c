/**
 * The analytics service's own metrics, read at scrape time: how far projection trails ingest
 * (`analytics_projection_lag_seconds`, the `AnalyticsProjectionLagging` alert's input), the
 * events acknowledged and applied, and the ingest requests refused while projection lagged.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Ingestor } from './ingest.ts';
import type { ProjectionLag } from './projection-lag.ts';
import type { ProjectorStats } from './projector.ts';

export function registerAnalyticsMetrics(
  registry: Registry,
  sources: { lag: ProjectionLag; ingestor: Ingestor; projector: { readonly stats: ProjectorStats } },
): void {
  const { lag, ingestor, projector } = sources;
  new Gauge({
    name: 'analytics_projection_lag_seconds',
    help: 'Age of the oldest acknowledged event batch not yet applied to the read models (0 when caught up)',
    registers: [registry],
    collect() {
      this.set(lag.lagMs() / 1000);
    },
  });
  new Counter({
    name: 'analytics_events_acknowledged_total',
    help: 'Events accepted and durably logged by this instance (duplicates excluded)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(ingestor.acknowledged);
    },
  });
  new Counter({
    name: 'analytics_ingest_refused_total',
    help: 'Ingest requests refused with 503 INGEST_LAGGING because projection lagged (nothing recorded)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(ingestor.refused);
    },
  });
  new Counter({
    name: 'analytics_events_projected_total',
    help: 'Events applied to the read models by this instance’s projector',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(projector.stats.applied);
    },
  });
}
