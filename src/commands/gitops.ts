import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { PlatformError, UsageError } from '../core/errors.ts';

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

interface RenderOptions {
  env: string;
  out: string;
  flux?: boolean;
  repoUrl?: string;
  revision: string;
  dryRun?: boolean;
  check?: boolean;
  terraformOutputs?: string[];
}

export async function render(ctx: CommandContext, _args: string[], opts: RenderOptions) {
  const { renderGitops } = await import('../gitops/render.ts');
  const { readStackOutputs } = await import('../stacks/outputs.ts');
  const platform = ctx.loadPlatform();
  const outDir = resolve(ctx.cwd, opts.out);
  let probe = outDir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  const top = git(probe, ['rev-parse', '--show-toplevel']) ?? platform.root;
  const repoPath = relative(top, outDir).split('\\').join('/');
  const slug = ctx.env.GITHUB_REPOSITORY;
  const repoUrl =
    opts.repoUrl ??
    git(top, ['config', '--get', 'remote.origin.url']) ??
    (slug ? `https://github.com/${slug}.git` : undefined);
  if (!repoUrl) {
    throw new UsageError(
      'cannot tell which Git URL Argo CD / Flux should pull from',
      'pass --repo-url https://github.com/<owner>/<repo>.git (or add an origin remote)',
    );
  }
  const terraformOutputs = readStackOutputs((opts.terraformOutputs ?? []).map((f) => resolve(ctx.cwd, f)));
  const { files, tags, warnings } = renderGitops(platform, {
    terraformOutputs,
    environment: opts.env,
    outDir,
    repoPath,
    repoUrl,
    revision: opts.revision,
    ...(opts.flux ? { flux: true } : {}),
  });
  for (const w of warnings) ctx.out.warn(w);
  const changes = [...files].map(([path, text]) => {
    const file = join(outDir, path);
    const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    const action = before === undefined ? 'create' : before === text ? 'unchanged' : 'update';
    if (!opts.dryRun && !opts.check && action !== 'unchanged') {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    return { path, action };
  });
  if (opts.check) {
    const stale = changes.filter((c) => c.action !== 'unchanged').map((c) => c.path);
    if (stale.length) {
      throw new PlatformError(
        'GITOPS_DRIFT',
        `${stale.length} file(s) in ${outDir} differ from platform.yaml: ${stale.join(', ')}`,
        {
          hint: `run \`platformctl gitops render --env ${opts.env}${opts.flux ? ' --flux' : ''}\` and commit the result`,
          details: { stale },
        },
      );
    }
    ctx.out.result(
      { dir: outDir, environment: opts.env, upToDate: true },
      () => `${outDir} is up to date for ${opts.env}`,
    );
    return;
  }
  const value = {
    dir: outDir,
    environment: opts.env,
    flavour: opts.flux ? 'flux' : 'argocd',
    repoUrl,
    repoPath,
    tags,
    dryRun: !!opts.dryRun,
    files: changes,
  };
  ctx.out.result(value, () => {
    const changed = changes.filter((c) => c.action !== 'unchanged').length;
    if (!opts.dryRun) ctx.out.success(`${changed} of ${changes.length} files written to ${outDir}`);
    const entry = opts.flux ? `flux/${opts.env}/` : `argocd/${opts.env}/root.yaml`;
    return [
      ...changes.map((c) => `${c.action.padEnd(9)} ${c.path}`),
      '',
      `entry point: ${join(opts.out, entry)} (${opts.flux ? 'point a Flux Kustomization at it' : 'kubectl apply -n argocd -f it'})`,
    ].join('\n');
  });
}

interface PromoteOptions {
  to: string;
  from: string;
  imageTag?: string;
  repo?: string;
  base: string;
  path: string;
}

export async function promote(ctx: CommandContext, args: string[], opts: PromoteOptions) {
  const service = args[0] as string;
  const platform = ctx.loadPlatform();
  if (!(service in platform.config.services)) {
    throw new UsageError(
      `no service "${service}" in platform.yaml`,
      `use one of: ${Object.keys(platform.config.services).join(', ')}`,
    );
  }
  if (!(opts.to in platform.config.environments)) {
    throw new UsageError(
      `no environment "${opts.to}" in platform.yaml`,
      `use one of: ${Object.keys(platform.config.environments).join(', ')}`,
    );
  }
  const { explainFailures, githubFromEnv, parseRepo } = await import('../providers/github.ts');
  const { promote: run } = await import('../gitops/promote.ts');
  const octokit = explainFailures(githubFromEnv(ctx.env));
  const slug = opts.repo ?? ctx.env.GITHUB_REPOSITORY;
  const repo = parseRepo(slug, slug ? undefined : git(ctx.cwd, ['config', '--get', 'remote.origin.url']));
  const result = await run(octokit, repo, {
    service,
    to: opts.to,
    from: opts.from,
    ...(opts.imageTag ? { imageTag: opts.imageTag } : {}),
    repoPath: opts.path.replace(/^\.\/|\/$/g, ''),
    base: opts.base,
  });
  ctx.out.result(result, () => {
    if (result.unchanged) return `${service} in ${opts.to} already pins ${result.to}: nothing to promote`;
    ctx.out.success(
      `pull request #${result.pullRequest?.number} opened: ${service} ${result.from ?? 'none'} -> ${result.to} in ${opts.to}`,
    );
    return result.pullRequest?.url ?? '';
  });
}
