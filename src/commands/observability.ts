import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { PlatformConfig } from '../core/config/schema.ts';
import type { CommandContext } from '../core/context.ts';
import { PlatformError, UsageError } from '../core/errors.ts';
import { driftedArtefacts, renderArtefacts, writeArtefacts } from '../observability/render.ts';
import { repoFromRemote } from '../providers/github.ts';
import { targetOf } from '../providers/kubernetes/manifests.ts';

interface RenderOptions {
  out: string;
  namespace?: string[];
  runbookBase?: string;
  check?: boolean;
}

function git(cwd: string, args: string[]): string | undefined {
  try {
    return (
      execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() ||
      undefined
    );
  } catch {
    return undefined;
  }
}

/** The namespaces of every Kubernetes environment, as `gitops render` names them. */
function clusterNamespaces(config: PlatformConfig): string[] {
  const names = Object.entries(config.environments)
    .filter(([, env]) => env.provider === 'kubernetes')
    .map(([name]) => targetOf(config, name).namespace);
  return [...new Set(names)];
}

/**
 * Alertmanager and Grafana show `runbook_url` as a link, so it must be absolute: by default the
 * rendered `runbooks/` folder on GitHub (GITHUB_REPOSITORY, else a GitHub origin remote).
 */
function runbookBase(ctx: CommandContext, dir: string, flag: string | undefined): string {
  if (flag) {
    if (!URL.canParse(flag) || !/^https?:/.test(flag)) {
      throw new UsageError(
        `--runbook-base "${flag}" is not an http(s) URL`,
        'pass e.g. --runbook-base https://wiki.example.com/runbooks/',
      );
    }
    return flag.endsWith('/') ? flag : `${flag}/`;
  }
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  const top = git(probe, ['rev-parse', '--show-toplevel']);
  const origin = top ? git(top, ['config', '--get', 'remote.origin.url']) : undefined;
  const slug = ctx.env.GITHUB_REPOSITORY || (origin ? repoFromRemote(origin) : undefined);
  if (!slug) {
    throw new UsageError(
      'cannot tell where the runbooks the alerts link will be served from',
      'pass --runbook-base <https URL of the rendered runbooks/ folder>, or set GITHUB_REPOSITORY',
    );
  }
  const path = relative(top ?? ctx.cwd, resolve(dir, 'runbooks'))
    .split('\\')
    .join('/');
  return `https://github.com/${slug}/blob/HEAD/${path}/`;
}

export async function render(ctx: CommandContext, _args: string[], opts: RenderOptions) {
  const { config } = ctx.loadPlatform();
  const dir = resolve(ctx.cwd, opts.out);
  const namespaces = opts.namespace?.length ? opts.namespace : clusterNamespaces(config);
  if (namespaces.length === 0) {
    throw new UsageError(
      'platform.yaml has no Kubernetes environment to render observability artefacts for',
      'add an environment with provider: kubernetes, or pass --namespace <ns>',
    );
  }
  const files = renderArtefacts(config, { namespaces, runbookBase: runbookBase(ctx, dir, opts.runbookBase) });
  if (opts.check) {
    const drifted = driftedArtefacts(dir, files);
    if (drifted.length > 0) {
      throw new PlatformError(
        'OBSERVABILITY_DRIFT',
        `${drifted.length} artefact(s) in ${dir} are out of date: ${drifted.join(', ')}`,
        {
          hint: 'run `platformctl observability render` and commit the result',
          details: { drifted },
        },
      );
    }
    ctx.out.result(
      { dir, upToDate: true, files: [...files.keys()] },
      () => `observability artefacts in ${dir} are up to date`,
    );
    return;
  }
  const written = writeArtefacts(dir, files);
  ctx.out.result({ dir, files: written }, () => {
    ctx.out.success(`wrote ${written.length} files to ${dir}`);
    return written.join('\n');
  });
}
