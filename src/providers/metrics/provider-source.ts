/** Metrics through a provider's own `metrics()` (e.g. the Kubernetes provider's mesh telemetry). */
import type { Provider } from '../provider.ts';
import { type MetricSource, toVersionMetrics, type VersionMetrics } from './source.ts';

export class ProviderMetricSource implements MetricSource {
  readonly name: string;
  readonly customMetrics: readonly string[] = [];
  private readonly provider: Pick<Provider, 'metrics' | 'name'>;

  constructor(provider: Pick<Provider, 'metrics' | 'name'>) {
    this.provider = provider;
    this.name = `${provider.name}-provider`;
  }

  async query(service: string, version: string, windowMs: number): Promise<VersionMetrics> {
    return toVersionMetrics(await this.provider.metrics(service, version, windowMs));
  }
}
