/**
 * The default metric source: the runtime gateway's `GET /admin/stats?window=` (Bearer ADMIN_TOKEN),
 * exact per-version percentiles over a sliding window of one-second buckets. One HTTP call answers
 * every version, so stable and canary queried in the same tick share a short-lived cached response.
 */
import type { StatsReport } from '../../../runtime/contract/gateway-admin.ts';
import { GatewayAdmin, versionMetricsOf } from '../local/gateway-client.ts';
import type { MetricSource, VersionMetrics } from './source.ts';

export interface GatewaySourceOptions {
  /** Reuse a response for this long (stable and canary are asked in the same tick). */
  cacheMs?: number;
  timeoutMs?: number;
}

export class GatewayMetricSource implements MetricSource {
  readonly name = 'gateway';
  readonly customMetrics: readonly string[] = [];
  private readonly admin: GatewayAdmin;
  private readonly cacheMs: number;
  private cache = new Map<string, { at: number; report: Promise<StatsReport> }>();

  constructor(baseUrl: string, token: string, options: GatewaySourceOptions = {}) {
    this.admin = new GatewayAdmin(baseUrl, token, options.timeoutMs ?? 2000);
    this.cacheMs = options.cacheMs ?? 100;
  }

  async query(service: string, version: string, windowMs: number): Promise<VersionMetrics> {
    return versionMetricsOf(await this.report(service, windowMs), service, version);
  }

  private report(service: string, windowMs: number): Promise<StatsReport> {
    const key = `${service}/${windowMs}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.cacheMs) return hit.report;
    const report = this.admin.stats(windowMs, service);
    this.cache.set(key, { at: now, report });
    report.catch(() => this.cache.delete(key));
    return report;
  }
}
