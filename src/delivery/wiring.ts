/**
 * Connects the engine to the outside world for commands: the environment's provider, the metric
 * source (the gateway's stats by default), webhooks, and the compiled strategy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedPlatform } from '../core/config/load.ts';
import { statePaths } from '../core/state-dir.ts';
import { GatewayMetricSource } from '../providers/metrics/gateway.ts';
import { ProviderMetricSource } from '../providers/metrics/provider-source.ts';
import type { MetricSource } from '../providers/metrics/source.ts';
import type { Provider } from '../providers/provider.ts';
import { openProvider } from '../providers/provider.ts';
import type { Condition } from './conditions.ts';
import {
  compileConditions,
  type ResolvedStrategy,
  resolveStrategy,
  type StrategyOverrides,
} from './strategy.ts';

export interface PreparedStrategy {
  strategy: ResolvedStrategy;
  conditions: Map<string, Condition>;
}

/** Resolves and compiles a service's strategy; condition typos are reported at file:line. */
export function prepareStrategy(
  platform: LoadedPlatform,
  service: string,
  overrides: StrategyOverrides,
  customMetrics: readonly string[] = [],
): PreparedStrategy {
  const { strategy, origins } = resolveStrategy(platform.config, service, overrides);
  return { strategy, conditions: compileConditions(platform, origins, { customMetrics }) };
}

export async function openDeliveryProvider(
  platform: LoadedPlatform,
  environment?: string,
): Promise<Provider> {
  return openProvider(platform, environment);
}

/**
 * Prometheus (PromQL) when `PLATFORMCTL_PROMETHEUS_URL` is set (e.g. from `up --with prometheus`);
 * else the gateway's `/admin/stats` when its URL and admin token are known (env
 * `PLATFORMCTL_GATEWAY_URL` + `PLATFORMCTL_ADMIN_TOKEN`, or the local platform's state), else the
 * provider's own `metrics()`.
 */
export async function openMetricSource(
  platform: LoadedPlatform,
  provider: Provider,
  env: NodeJS.ProcessEnv = process.env,
): Promise<MetricSource> {
  if (env.PLATFORMCTL_PROMETHEUS_URL) {
    const { PrometheusMetricSource } = await import('../providers/metrics/prometheus.ts');
    return new PrometheusMetricSource({ url: env.PLATFORMCTL_PROMETHEUS_URL });
  }
  if (env.PLATFORMCTL_GATEWAY_URL && env.PLATFORMCTL_ADMIN_TOKEN) {
    return new GatewayMetricSource(env.PLATFORMCTL_GATEWAY_URL, env.PLATFORMCTL_ADMIN_TOKEN);
  }
  if (provider.name === 'local') {
    const tokenFile = join(statePaths(platform.root).dir, 'admin-token');
    const status = await provider.status().catch(() => undefined);
    if (status?.gatewayUrl && existsSync(tokenFile)) {
      const token = readFileSync(tokenFile, 'utf8').trim();
      if (token) return new GatewayMetricSource(status.gatewayAdminUrl ?? status.gatewayUrl, token);
    }
  }
  return new ProviderMetricSource(provider);
}
