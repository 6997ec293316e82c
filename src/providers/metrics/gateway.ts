/**
 * The default metric source: the runtime gateway's `GET /admin/stats?window=` (Bearer ADMIN_TOKEN),
 * exact per-version percentiles over a sliding window of one-second buckets. One HTTP call answers
 * every version, so stable and canary queried in the same tick share a short-lived cached response.
 */
import { PlatformError } from '../../core/errors.ts';
import { type MetricSource, toVersionMetrics, type VersionMetrics } from './source.ts';

interface StatsReport {
  windowMs: number;
  services: Record<string, { versions: Record<string, Record<string, unknown>> }>;
}

export interface GatewaySourceOptions {
  /** Reuse a response for this long (stable and canary are asked in the same tick). */
  cacheMs?: number;
  timeoutMs?: number;
}

export class GatewayMetricSource implements MetricSource {
  readonly name = 'gateway';
  readonly customMetrics: readonly string[] = [];
  private readonly baseUrl: string;
  private readonly token: string;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private cache = new Map<string, { at: number; report: Promise<StatsReport> }>();

  constructor(baseUrl: string, token: string, options: GatewaySourceOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.token = token;
    this.cacheMs = options.cacheMs ?? 100;
    this.timeoutMs = options.timeoutMs ?? 2000;
  }

  async query(service: string, version: string, windowMs: number): Promise<VersionMetrics> {
    const report = await this.report(service, windowMs);
    return toVersionMetrics(report.services[service]?.versions[version] ?? {});
  }

  /** The gateway's window has one-second resolution, from 1 s to 5 min. */
  static windowParam(windowMs: number): string {
    return `${Math.min(300, Math.max(1, Math.ceil(windowMs / 1000)))}s`;
  }

  private report(service: string, windowMs: number): Promise<StatsReport> {
    const window = GatewayMetricSource.windowParam(windowMs);
    const key = `${service}/${window}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.cacheMs) return hit.report;
    const report = this.fetchReport(service, window);
    this.cache.set(key, { at: now, report });
    report.catch(() => this.cache.delete(key));
    return report;
  }

  private async fetchReport(service: string, window: string): Promise<StatsReport> {
    const url = `${this.baseUrl}/admin/stats?window=${window}&service=${encodeURIComponent(service)}`;
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: `Bearer ${this.token}` },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new PlatformError(
        'METRICS_UNAVAILABLE',
        `the gateway at ${this.baseUrl} does not answer for stats`,
        {
          hint: 'check `platformctl status`',
          cause: err,
        },
      );
    }
    if (!res.ok) {
      throw new PlatformError('METRICS_UNAVAILABLE', `gateway stats answered ${res.status}`, {
        hint:
          res.status === 401 ? 'the admin token is wrong: restart the platform' : 'check the gateway logs',
      });
    }
    const body = (await res.json()) as StatsReport;
    return { windowMs: body.windowMs, services: body.services ?? {} };
  }
}
