/** An in-memory provider and metric source for engine tests: traffic follows the weights it is given. */
import type { VersionMetrics } from '../../src/delivery/metrics.ts';
import type { DeliveryProvider } from '../../src/delivery/rollout.ts';
import type { ServiceStatus, TrafficSpec } from '../../src/providers/provider.ts';

export interface VersionBehaviour {
  errorRate: number;
  p99: number;
}

export class FakePlatform {
  readonly calls: { op: string; args: unknown[] }[] = [];
  versions: string[];
  weights: Record<string, number>;
  header: string | undefined;
  behaviour: Record<string, VersionBehaviour> = {};
  /** Virtual requests per second reaching the service. */
  rps: number;
  /** Virtual preview (header-pinned) requests per second. */
  previewRps = 0;

  constructor(stable: string, rps = 20_000) {
    this.versions = [stable];
    this.weights = { [stable]: 100 };
    this.rps = rps;
    this.behaviour[stable] = { errorRate: 0, p99: 100 };
  }

  provider(): DeliveryProvider {
    const status = (): ServiceStatus => ({
      name: 'api',
      kind: 'service',
      versions: [...this.versions],
      desiredReplicas: 1,
      instances: [],
      healthy: true,
      traffic: { weights: { ...this.weights } },
    });
    return {
      status: async () => ({
        provider: 'local',
        running: true,
        services: [status()],
        metricsAvailable: true,
      }),
      deploy: async (service, release, opts) => {
        this.calls.push({
          op: 'deploy',
          args: [service, release.version, opts?.replicas, opts?.initialWeight],
        });
        this.versions.push(release.version);
        this.behaviour[release.version] ??= { errorRate: 0, p99: 100 };
        return status();
      },
      retire: async (service, version) => {
        this.calls.push({ op: 'retire', args: [service, version] });
        this.versions = this.versions.filter((v) => v !== version);
        delete this.weights[version];
        return status();
      },
      scale: async (service, replicas, opts) => {
        this.calls.push({ op: 'scale', args: [service, replicas, opts?.version] });
        return status();
      },
      setTraffic: async (service, traffic: TrafficSpec) => {
        this.calls.push({ op: 'setTraffic', args: [service, structuredClone(traffic)] });
        this.weights = Object.fromEntries(Object.entries(traffic.weights).filter(([, w]) => w > 0));
        this.header = traffic.header;
      },
    };
  }

  source() {
    return {
      name: 'fake',
      customMetrics: [] as string[],
      query: async (_service: string, version: string, windowMs: number): Promise<VersionMetrics> => {
        const share = (this.weights[version] ?? 0) / 100;
        const preview = this.header && version === this.versions.at(-1) ? this.previewRps : 0;
        const requests = Math.floor(((this.rps * share + preview) * windowMs) / 1000);
        const b = this.behaviour[version] ?? { errorRate: 0, p99: 100 };
        const errors = Math.round(requests * b.errorRate);
        if (requests === 0) return { requests: 0, errors: 0 };
        return { requests, errors, errorRate: errors / requests, p50: b.p99 / 4, p95: b.p99 / 2, p99: b.p99 };
      },
    };
  }

  weightHistory(): Record<string, number>[] {
    return this.calls.filter((c) => c.op === 'setTraffic').map((c) => (c.args[1] as TrafficSpec).weights);
  }
}
