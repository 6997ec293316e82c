/**
 * Running Debian's `prometheus` binary for a local platform (`platformctl up --with prometheus`)
 * and for tests: where the binary is, the files it needs (prometheus.yml + rules) and its command
 * line. Supervision (start, restart, stop, logs) is the local provider's job, as for any process.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import type { PlatformConfig } from '../core/config/schema.ts';
import { sleep } from '../core/sleep.ts';
import { packageRoot } from '../providers/local/releases.ts';
import { alertRules, recordingRules, type ScrapeTarget, scrapeConfig } from './prometheus.ts';

const CANDIDATES = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'];

/** The prometheus binary (`PLATFORMCTL_PROMETHEUS_BIN`, then the Debian paths); undefined if absent. */
export function findPrometheusBinary(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.PLATFORMCTL_PROMETHEUS_BIN) return env.PLATFORMCTL_PROMETHEUS_BIN;
  return CANDIDATES.find((p) => existsSync(p));
}

export interface PrometheusFiles {
  dir: string;
  configFile: string;
  dataDir: string;
}

/** A local Prometheus links the runbooks shipped with platformctl, on this machine. */
function localRunbook(file: string): string {
  return pathToFileURL(join(packageRoot(), 'docs', 'runbooks', file)).href;
}

/**
 * Writes prometheus.yml (scrape every target every `scrapeInterval`) and the platform's recording
 * and alert rules under `dir`; the TSDB lives in `dir/data`.
 */
export async function writePrometheusFiles(
  dir: string,
  config: PlatformConfig,
  targets: ScrapeTarget[],
  options: { scrapeInterval?: string } = {},
): Promise<PrometheusFiles> {
  await mkdir(join(dir, 'data'), { recursive: true });
  const rulesFile = join(dir, 'rules.yml');
  await writeFile(
    rulesFile,
    stringify({ groups: [...recordingRules(config), ...alertRules(config, localRunbook)] }),
  );
  const scrape = scrapeConfig(config, targets, [rulesFile]) as { global: Record<string, unknown> };
  if (options.scrapeInterval) scrape.global.scrape_interval = options.scrapeInterval;
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, stringify(scrape));
  return { dir, configFile, dataDir: join(dir, 'data') };
}

/** Command-line arguments: local-only listener, TSDB under the platform's data directory. */
export function prometheusArgs(files: PrometheusFiles, port: number, retention = '2d'): string[] {
  return [
    `--config.file=${files.configFile}`,
    `--storage.tsdb.path=${files.dataDir}`,
    `--storage.tsdb.retention.time=${retention}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
  ];
}

/** Resolves when `/-/ready` answers 200 (bounded by `timeoutMs`). */
export async function waitPrometheusReady(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    const ok = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`Prometheus at ${url} did not become ready within ${timeoutMs} ms`);
}
