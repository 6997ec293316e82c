import type { PlatformConfig } from '../core/config/schema.ts';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, UsageError, unknownServiceError } from '../core/errors.ts';
import { isPortFree } from '../core/ports.ts';
import { askChoice, askText } from '../core/prompts.ts';
import { statePaths } from '../core/state-dir.ts';
import { pushRegistry } from '../providers/kubernetes/manifests.ts';
import { readState } from '../providers/local/state.ts';
import {
  adoptService,
  type FileChange,
  newService,
  nextPort,
  sourceDirOf,
  upgradeService,
} from '../scaffold/service.ts';
import { templateNames } from '../scaffold/template.ts';

const NAME = /^[a-z][a-z0-9-]{0,39}$/;

interface NewOptions {
  template?: string;
  port?: string;
  owner?: string;
  helm?: boolean;
  registry?: string;
  dryRun?: boolean;
}

function renderChanges(ctx: CommandContext, changes: FileChange[]): string {
  const s = ctx.out.style;
  const colour: Record<FileChange['action'], (t: string) => string> = {
    create: s.green,
    update: s.cyan,
    merge: s.cyan,
    conflict: s.red,
    delete: s.yellow,
    keep: s.dim,
    unchanged: s.dim,
  };
  return changes
    .map(
      (c) =>
        `${colour[c.action](c.action.padEnd(9))} ${c.path}${c.conflicts ? ` (${c.conflicts} conflicts)` : ''}`,
    )
    .join('\n');
}

export async function create(ctx: CommandContext, [name]: string[], opts: NewOptions) {
  if (!name || !NAME.test(name))
    throw new UsageError(
      `"${name}" is not a valid service name`,
      'use lowercase letters, digits and dashes, e.g. billing-api',
    );
  const { config, file, root } = ctx.loadPlatform();
  const template = await askChoice(ctx, {
    flag: 'template',
    message: 'Template:',
    value: opts.template,
    choices: templateNames(),
  });
  const owner = await askText(ctx, { flag: 'owner', message: 'Owning team:', value: opts.owner });
  const port = opts.port === undefined ? undefined : Number(opts.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))
    throw new UsageError(`--port ${opts.port} is not a port number`);
  const result = newService({
    root,
    configFile: file,
    config,
    name,
    template,
    port,
    busyPorts: await busyPorts(root, config),
    owner,
    helm: Boolean(opts.helm),
    registry: registryFor(config, opts.registry),
    dryRun: Boolean(opts.dryRun),
    templatesDir: ctx.env.PLATFORMCTL_TEMPLATES_DIR,
  });
  ctx.out.result(
    {
      service: name,
      path: result.servicePath,
      dryRun: Boolean(opts.dryRun),
      port: result.answers.port,
      files: result.changes,
    },
    () => {
      if (!opts.dryRun)
        ctx.out.success(
          `created ${result.servicePath} and registered "${name}" in platform.yaml (port ${result.answers.port})`,
        );
      return `${renderChanges(ctx, result.changes)}${opts.dryRun ? '' : `\n\nNext:\n  npx vitest run --root ${result.servicePath}\n  platformctl up ${name}`}`;
    },
  );
}

/**
 * The registry the service's workflow pushes to: `--registry`, else the one the manifests pull from,
 * so the image CI pushes is the image the Kubernetes environments deploy.
 */
function registryFor(config: PlatformConfig, flag: string | undefined): string {
  if (flag) return flag;
  const registry = pushRegistry(config);
  if (!registry)
    throw new UsageError(
      "platform.yaml's Kubernetes environments pull from different registries, and a workflow pushes to one",
      'pass --registry <registry>, or give the environments the same `registry`',
    );
  return registry;
}

/**
 * Ports a new service must not take: those of the running platform's instances (a canary or a
 * scaled instance may sit outside the configured ports), and the ports after the configured ones
 * that another process holds.
 */
async function busyPorts(root: string, config: PlatformConfig): Promise<Set<number>> {
  const busy = new Set(readState(statePaths(root).state).instances.map((i) => i.port));
  for (let tries = 0; tries < 50; tries++) {
    const candidate = nextPort(config, busy);
    if (await isPortFree(candidate)) break;
    busy.add(candidate);
  }
  return busy;
}

export async function upgrade(ctx: CommandContext, [name]: string[], opts: { dryRun?: boolean }) {
  const { config, root } = ctx.loadPlatform();
  const result = upgradeService({
    root,
    config,
    name: name as string,
    dryRun: Boolean(opts.dryRun),
    templatesDir: ctx.env.PLATFORMCTL_TEMPLATES_DIR,
  });
  const conflicts = result.changes.filter((c) => c.action === 'conflict');
  ctx.out.result({ service: name, ...result, dryRun: Boolean(opts.dryRun) }, () => {
    const head = `template version ${result.from} -> ${result.to}`;
    return `${head}\n${renderChanges(
      ctx,
      result.changes.filter((c) => c.action !== 'unchanged'),
    )}`;
  });
  if (conflicts.length > 0) {
    ctx.out.warn(`${conflicts.length} file(s) have conflicts: resolve the <<<<<<< markers, then commit`);
    return ExitCode.failure;
  }
}

export async function adopt(
  ctx: CommandContext,
  [name]: string[],
  opts: { template: string; owner: string; helm?: boolean; registry?: string; dryRun?: boolean },
) {
  const { config, root } = ctx.loadPlatform();
  const spec = config.services[name as string];
  if (!spec) throw unknownServiceError(config.services, name as string);
  const result = adoptService({
    root,
    config,
    name: name as string,
    sourceDir: sourceDirOf(root, spec.path),
    template: opts.template,
    owner: opts.owner,
    helm: Boolean(opts.helm),
    registry: registryFor(config, opts.registry),
    dryRun: Boolean(opts.dryRun),
    templatesDir: ctx.env.PLATFORMCTL_TEMPLATES_DIR,
  });
  ctx.out.result(
    { service: name, path: result.servicePath, dryRun: Boolean(opts.dryRun), files: result.changes },
    () => renderChanges(ctx, result.changes),
  );
}
