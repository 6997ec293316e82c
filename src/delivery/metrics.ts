/** The delivery engine's view of metrics; sources live in src/providers/metrics/. */
import type { VersionMetrics } from '../providers/metrics/source.ts';

export type { MetricSource, VersionMetrics } from '../providers/metrics/source.ts';

/** The stable and canary measurements an analysis compares. */
export interface MetricPair {
  stable: VersionMetrics;
  canary: VersionMetrics;
}
