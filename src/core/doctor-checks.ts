/** The checks behind `platformctl doctor`. Each is independent and never throws. */
import { execFile } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { PlatformConfig } from './config/schema.ts';
import { isPortFree, portHolder } from './ports.ts';

const run = promisify(execFile);

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  /** Required checks make doctor exit 1 when they fail; optional ones only warn. */
  required: boolean;
  detail: string;
  fix?: string;
}

const MIN_NODE_MAJOR = 22;
const MIN_FREE_DISK = 1024 ** 3;

async function versionOf(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 5000 });
    return stdout.trim().split('\n')[0];
  } catch {
    return undefined;
  }
}

export function checkNode(version = process.versions.node): CheckResult {
  const major = Number(version.split('.')[0]);
  return major >= MIN_NODE_MAJOR
    ? { name: 'node', status: 'ok', required: true, detail: `v${version}` }
    : {
        name: 'node',
        status: 'fail',
        required: true,
        detail: `v${version} is older than ${MIN_NODE_MAJOR}`,
        fix: 'install Node 24 (see .nvmrc)',
      };
}

export async function checkTerraform(): Promise<CheckResult> {
  const v = await versionOf('terraform', ['version']);
  return v
    ? { name: 'terraform', status: 'ok', required: false, detail: v }
    : {
        name: 'terraform',
        status: 'warn',
        required: false,
        detail: 'not found',
        fix: 'install terraform >= 1.6 to use plan/apply',
      };
}

export async function checkKubectl(): Promise<CheckResult[]> {
  const v = await versionOf('kubectl', ['version', '--client=true']);
  if (!v)
    return [
      {
        name: 'kubectl',
        status: 'warn',
        required: false,
        detail: 'not found',
        fix: 'install kubectl to use the kubernetes provider',
      },
    ];
  const context = await versionOf('kubectl', ['config', 'current-context']);
  return [
    { name: 'kubectl', status: 'ok', required: false, detail: v },
    context
      ? { name: 'kube context', status: 'ok', required: false, detail: context }
      : {
          name: 'kube context',
          status: 'warn',
          required: false,
          detail: 'no current context',
          fix: 'run `kubectl config use-context <name>` for the kubernetes provider',
        },
  ];
}

export function checkGithubToken(env: NodeJS.ProcessEnv): CheckResult {
  const name = env.GITHUB_TOKEN ? 'GITHUB_TOKEN' : env.GH_TOKEN ? 'GH_TOKEN' : undefined;
  return name
    ? { name: 'github token', status: 'ok', required: false, detail: `${name} is set` }
    : {
        name: 'github token',
        status: 'warn',
        required: false,
        detail: 'neither GITHUB_TOKEN nor GH_TOKEN is set',
        fix: 'export GITHUB_TOKEN to use `platformctl pipeline`',
      };
}

export function checkDisk(dir: string): CheckResult {
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  const gib = (free / 1024 ** 3).toFixed(1);
  return free >= MIN_FREE_DISK
    ? { name: 'disk', status: 'ok', required: true, detail: `${gib} GiB free in ${dir}` }
    : {
        name: 'disk',
        status: 'fail',
        required: true,
        detail: `only ${gib} GiB free in ${dir}`,
        fix: 'free at least 1 GiB (try `platformctl down --purge`)',
      };
}

/** Each local service port must be free (or held by our own running platform). */
export async function checkPorts(config: PlatformConfig, ownPids: Set<number>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const [name, svc] of Object.entries(config.services)) {
    if (await isPortFree(svc.port)) {
      results.push({ name: `port ${svc.port}`, status: 'ok', required: true, detail: `free for ${name}` });
      continue;
    }
    const holder = portHolder(svc.port);
    if (holder && ownPids.has(holder.pid)) {
      results.push({
        name: `port ${svc.port}`,
        status: 'ok',
        required: true,
        detail: `in use by the running ${name}`,
      });
    } else {
      results.push({
        name: `port ${svc.port}`,
        status: 'fail',
        required: true,
        detail: `needed by ${name}, held by ${holder ? `pid ${holder.pid} (${holder.command})` : 'another process'}`,
        fix: holder
          ? `stop pid ${holder.pid}, or set services.${name}.port to a free port`
          : `set services.${name}.port to a free port`,
      });
    }
  }
  return results;
}
