/**
 * `platformctl up --with prometheus`: a Prometheus scraping every planned instance of the local
 * platform, run by the supervisor like any other process (runtime/prometheus wraps the binary).
 * Files and the TSDB live under `.platform/data/prometheus`; the URL is written to
 * `.platform/prometheus-url` and shown by `up`/`status` (export it as PLATFORMCTL_PROMETHEUS_URL to
 * have canary analysis read PromQL instead of the gateway's stats).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedPlatform } from '../core/config/load.ts';
import { PlatformError } from '../core/errors.ts';

import { freePort, isPortFree } from '../core/ports.ts';
import { statePaths } from '../core/state-dir.ts';
import { gatewayAdminPort } from '../providers/local/edge-defaults.ts';
import { packageRoot } from '../providers/local/releases.ts';
import type { Plan, ServicePlan } from '../providers/local/service-plan.ts';
import { findPrometheusBinary, writePrometheusFiles } from './prometheus-server.ts';

export const EXTRAS = ['prometheus'] as const;

/** Adds the Prometheus process to `plan` (port kept when it already runs). Returns its URL. */
export async function addPrometheus(
  platform: LoadedPlatform,
  plan: Plan,
  runningPort: number | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const bin = findPrometheusBinary(env);
  if (!bin) {
    throw new PlatformError('PROMETHEUS_MISSING', 'prometheus is not installed', {
      hint: 'apt-get install -y prometheus (or set PLATFORMCTL_PROMETHEUS_BIN to its path)',
    });
  }
  const port =
    runningPort ??
    (env.PLATFORMCTL_PROMETHEUS_PORT
      ? Number(env.PLATFORMCTL_PROMETHEUS_PORT)
      : (await isPortFree(9090))
        ? 9090
        : await freePort());
  const targets = plan.services
    .filter((s) => plan.run.includes(s.name) && s.name !== 'prometheus')
    .map((s) => ({
      service: s.name,
      // The gateway's metrics are on its admin listener, not its public port.
      targets: Array.from({ length: s.replicas }, (_, i) =>
        s.kind === 'gateway'
          ? `127.0.0.1:${gatewayAdminPort(s.basePort + i)}`
          : `127.0.0.1:${s.basePort + i}`,
      ),
    }));
  const dir = join(statePaths(platform.root).data, 'prometheus');
  const files = await writePrometheusFiles(dir, platform.config, targets);
  const entry: ServicePlan = {
    name: 'prometheus',
    kind: 'worker',
    version: 'system',
    entry: join(packageRoot(), 'runtime', 'prometheus', 'src', 'main.ts'),
    replicas: 1,
    basePort: port,
    routes: [],
    dependsOn: [],
    readiness: '/-/ready',
    env: { PROMETHEUS_BIN: bin, PROMETHEUS_CONFIG: files.configFile, PROMETHEUS_DATA: files.dataDir },
  };
  plan.services = [...plan.services.filter((s) => s.name !== 'prometheus'), entry];
  if (!plan.run.includes('prometheus')) plan.run = [...plan.run, 'prometheus'];
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(join(statePaths(platform.root).dir, 'prometheus-url'), `${url}\n`);
  return url;
}
