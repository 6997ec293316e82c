/**
 * `service new` and `service upgrade`: render a template into `services/<name>/`, remember the
 * answers and the pristine render (the merge base), register the service in platform.yaml, and
 * later re-render with the current template and three-way-merge so user edits survive.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { PlatformConfig } from '../core/config/schema.ts';
import { addMappingEntry } from '../core/config/yaml-edit.ts';
import { PlatformError, unknownServiceError } from '../core/errors.ts';
import { mergeThreeWay } from './merge.ts';
import { runtimeLibPackage } from './project.ts';
import {
  type Answers,
  type LoadedTemplate,
  loadTemplate,
  renderTemplate,
  TEMPLATES_DIR,
} from './template.ts';

const RUNTIME_DIR = join(import.meta.dirname, '..', '..', 'runtime');
const RUNTIME_LIB = join(RUNTIME_DIR, 'lib');

/** A service's source directory: `builtin:<name>` is the runtime shipped with platformctl. */
export function sourceDirOf(root: string, path: string): string {
  return path.startsWith('builtin:') ? join(RUNTIME_DIR, path.slice('builtin:'.length)) : join(root, path);
}
const META = '.platformctl';

export interface NewServiceInput {
  root: string;
  configFile: string;
  config: PlatformConfig;
  name: string;
  template: string;
  port?: number;
  /** Ports in use right now (live instances, other processes): never given to the new service. */
  busyPorts?: ReadonlySet<number>;
  owner: string;
  helm: boolean;
  registry: string;
  dryRun: boolean;
  templatesDir?: string;
}

export interface FileChange {
  path: string;
  action: 'create' | 'update' | 'merge' | 'conflict' | 'delete' | 'keep' | 'unchanged';
  conflicts?: number;
}

/** What `service new` and `service adopt` keep in `.platformctl/answers.json`. */
export interface StoredAnswers {
  template: string;
  templateVersion: number;
  answers: Answers;
  /** For adopted services: only template files under these prefixes are managed. */
  include?: string[];
}

/** Deploy artefacts only: what `service adopt` manages for a service whose code already exists. */
export const DEPLOY_PREFIXES = ['Dockerfile', 'k8s/', 'helm/', '.github/'];

/**
 * Where a rendered file goes. GitHub reads workflows only from the repository root, so the
 * template's `.github/` lands there; everything else lands in the service directory.
 */
function placeOf(servicePath: string, rel: string): string {
  return rel.startsWith('.github/') ? rel : `${servicePath}/${rel}`;
}

/**
 * The next port after every port platform.yaml uses (replicas included) that is not busy (a live
 * instance of the running platform, or another process, holds it).
 */
export function nextPort(config: PlatformConfig, busy: ReadonlySet<number> = new Set()): number {
  const used = Object.values(config.services).map((s) => s.port + s.replicas - 1);
  let port = Math.max(...used) + 1;
  while (busy.has(port)) port++;
  return port;
}

function posix(path: string): string {
  return path.split('\\').join('/');
}

export function newService(input: NewServiceInput): {
  servicePath: string;
  changes: FileChange[];
  answers: Answers;
} {
  if (input.name in input.config.services) {
    throw new PlatformError('SERVICE_EXISTS', `service "${input.name}" is already in platform.yaml`, {
      hint: `pick another name, or run \`platformctl service upgrade ${input.name}\``,
    });
  }
  const servicePath = `services/${input.name}`;
  const dir = join(input.root, servicePath);
  if (existsSync(dir)) {
    throw new PlatformError('SERVICE_EXISTS', `${servicePath} already exists`, {
      hint: 'remove it or pick another name',
    });
  }
  const busy = input.busyPorts ?? new Set<number>();
  const port = input.port ?? nextPort(input.config, busy);
  const clash = Object.entries(input.config.services).find(
    ([, s]) => port >= s.port && port < s.port + s.replicas,
  );
  if (clash) {
    throw new PlatformError('PORT_TAKEN', `port ${port} is used by service "${clash[0]}"`, {
      hint: `omit --port to take the next free one (${nextPort(input.config, busy)})`,
    });
  }
  if (input.port !== undefined && busy.has(port)) {
    throw new PlatformError('PORT_TAKEN', `port ${port} is in use by a running process`, {
      hint: `omit --port to take the next free one (${nextPort(input.config, busy)})`,
    });
  }
  const template = loadTemplate(input.template, input.templatesDir ?? TEMPLATES_DIR);
  const answers = answersFor({
    ...input,
    port,
    servicePath,
    dir,
    templateVersion: template.manifest.version,
  });
  const files = renderTemplate(template, answers);
  const changes = [...files.keys()].map((path) => ({
    path: placeOf(servicePath, path),
    action: 'create' as const,
  }));
  if (input.dryRun) return { servicePath, changes, answers };

  for (const [path, text] of files) write(join(input.root, placeOf(servicePath, path)), text);
  saveMeta(dir, { template: input.template, templateVersion: template.manifest.version, answers }, files);
  registerService(input.configFile, input.name, {
    path: servicePath,
    port,
    routes: [`/${input.name}`],
    owner: input.owner,
  });
  return { servicePath, changes, answers };
}

function answersFor(a: {
  root: string;
  name: string;
  owner: string;
  port: number;
  config: PlatformConfig;
  registry: string;
  servicePath: string;
  dir: string;
  helm: boolean;
  templateVersion: number;
}): Answers {
  // A repository that depends on platformctl imports the kit from that package, which its
  // Dockerfile's `npm ci` installs inside the build context; a path to wherever this CLI happens to
  // be installed would point outside it.
  const kit = runtimeLibPackage(a.root);
  return {
    name: a.name,
    owner: a.owner,
    port: a.port,
    platform: a.config.name,
    image: `${a.registry.replace(/\/$/, '')}/${a.name}`,
    servicePath: a.servicePath,
    helm: a.helm,
    helmNote: a.helm ? ' or `helm/`' : '',
    bumpEnvironment: firstBumpEnvironment(a.config),
    runtimeLib: kit ?? posix(relative(join(a.dir, 'src'), RUNTIME_LIB)),
    runtimeLibFromTest: kit ?? posix(relative(join(a.dir, 'test'), RUNTIME_LIB)),
    templateVersion: a.templateVersion,
  };
}

/**
 * The environment a service's workflow pins each pushed image in: the first Kubernetes environment
 * that is not protected, since protected ones take images through a reviewed `gitops promote`.
 * A platform without one gets its first Kubernetes environment, and one with no Kubernetes at all
 * its first environment, whose `gitops promote` then says why it cannot pin there.
 */
function firstBumpEnvironment(config: PlatformConfig): string {
  const envs = Object.entries(config.environments);
  const kube = envs.filter(([, e]) => e.provider === 'kubernetes');
  // The schema requires at least one environment, so envs[0] exists.
  const [name] = kube.find(([, e]) => !e.protected) ?? kube[0] ?? (envs[0] as (typeof envs)[number]);
  return name;
}

/**
 * Gives an existing service (its code written by hand, e.g. the runtime's own services) the same
 * Dockerfile, manifests and workflow as scaffolded ones, and records them so `service upgrade`
 * keeps them in step with the template. Code and tests are left alone.
 */
export function adoptService(
  input: Omit<NewServiceInput, 'name' | 'port' | 'configFile'> & { name: string; sourceDir: string },
): {
  servicePath: string;
  changes: FileChange[];
} {
  const svc = input.config.services[input.name];
  if (!svc) throw unknownServiceError(input.config.services, input.name);
  const dir = input.sourceDir;
  const servicePath = posix(relative(input.root, dir));
  const template = loadTemplate(input.template, input.templatesDir ?? TEMPLATES_DIR);
  const answers = answersFor({
    ...input,
    port: svc.port,
    servicePath,
    dir,
    templateVersion: template.manifest.version,
  });
  const include = DEPLOY_PREFIXES.filter((p) => input.helm || p !== 'helm/');
  const files = new Map(
    [...renderTemplate(template, answers)].filter(([p]) => include.some((prefix) => p.startsWith(prefix))),
  );
  const changes: FileChange[] = [...files.keys()].map((path) => {
    const target = join(input.root, placeOf(servicePath, path));
    return { path: placeOf(servicePath, path), action: existsSync(target) ? 'keep' : 'create' };
  });
  if (input.dryRun) return { servicePath, changes };
  for (const [path, text] of files) {
    const target = join(input.root, placeOf(servicePath, path));
    if (!existsSync(target)) write(target, text);
  }
  saveMeta(
    dir,
    { template: input.template, templateVersion: template.manifest.version, answers, include },
    files,
  );
  return { servicePath, changes };
}

/**
 * What the current template makes of a service's stored answers: the files `service upgrade`
 * merges in (for adopted services, only those under the prefixes they manage).
 */
export function renderStored(
  stored: StoredAnswers,
  config: PlatformConfig,
  templatesDir = TEMPLATES_DIR,
): { template: LoadedTemplate; answers: Answers; files: Map<string, string> } {
  const template = loadTemplate(stored.template, templatesDir);
  // Answers a template gained after this service was made are computed from today's platform.yaml;
  // the stored ones keep what the service was made with.
  const answers = {
    bumpEnvironment: firstBumpEnvironment(config),
    ...stored.answers,
    templateVersion: template.manifest.version,
  };
  const rendered = renderTemplate(template, answers);
  const include = stored.include;
  const files = include
    ? new Map([...rendered].filter(([p]) => include.some((prefix) => p.startsWith(prefix))))
    : rendered;
  return { template, answers, files };
}

export function upgradeService(opts: {
  root: string;
  config: PlatformConfig;
  name: string;
  dryRun: boolean;
  templatesDir?: string;
}): {
  from: number;
  to: number;
  changes: FileChange[];
} {
  const svc = opts.config.services[opts.name];
  if (!svc) throw unknownServiceError(opts.config.services, opts.name);
  const dir = sourceDirOf(opts.root, svc.path);
  const servicePath = posix(relative(opts.root, dir));
  const metaFile = join(dir, META, 'answers.json');
  if (!existsSync(metaFile)) {
    throw new PlatformError(
      'SERVICE_NOT_SCAFFOLDED',
      `${servicePath} was not generated by platformctl (no ${META}/answers.json)`,
      {
        hint: `run \`platformctl service adopt ${opts.name}\` first, or create services with \`platformctl service new\``,
      },
    );
  }
  const stored = JSON.parse(readFileSync(metaFile, 'utf8')) as StoredAnswers;
  const { template, answers, files: theirs } = renderStored(stored, opts.config, opts.templatesDir);
  const base = readBase(dir);
  const paths = [...new Set([...base.keys(), ...theirs.keys()])].sort();
  refuseUnresolvedConflicts(
    opts.root,
    paths.map((p) => placeOf(servicePath, p)),
  );
  const changes: FileChange[] = [];
  const writes: [string, string | undefined][] = [];
  for (const path of paths) {
    const shown = placeOf(servicePath, path);
    const file = join(opts.root, shown);
    const ours = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    const b = base.get(path);
    const t = theirs.get(path);
    if (t === undefined) {
      // The template dropped this file: delete it only if the user never touched it.
      if (ours !== undefined && ours === b) {
        changes.push({ path: shown, action: 'delete' });
        writes.push([file, undefined]);
      } else if (ours !== undefined) changes.push({ path: shown, action: 'keep' });
      continue;
    }
    if (ours === undefined) {
      if (b === undefined) {
        changes.push({ path: shown, action: 'create' });
        writes.push([file, t]);
      } else changes.push({ path: shown, action: 'keep' }); // the user deleted it on purpose
      continue;
    }
    const merged = mergeThreeWay(ours, b ?? '', t, path);
    if (merged.text === ours) changes.push({ path: shown, action: 'unchanged' });
    else {
      changes.push({
        path: shown,
        action: merged.conflicts > 0 ? 'conflict' : ours === b ? 'update' : 'merge',
        ...(merged.conflicts > 0 ? { conflicts: merged.conflicts } : {}),
      });
      writes.push([file, merged.text]);
    }
  }
  if (!opts.dryRun) {
    for (const [file, text] of writes) {
      if (text === undefined) rmSync(file, { force: true });
      else write(file, text);
    }
    saveMeta(dir, { ...stored, templateVersion: template.manifest.version, answers }, theirs);
  }
  return { from: stored.templateVersion, to: template.manifest.version, changes };
}

/** A line git merge-file writes at the start or end of a conflict. */
const CONFLICT_MARKER = /^(<{7}|>{7}) /m;

/**
 * A previous upgrade's conflict markers still in a file would be taken for the user's edit and
 * merged again (the file would read as "unchanged"), so refuse until they are resolved.
 */
function refuseUnresolvedConflicts(root: string, shownPaths: string[]): void {
  const unresolved = shownPaths.filter((shown) => {
    const file = join(root, shown);
    return existsSync(file) && CONFLICT_MARKER.test(readFileSync(file, 'utf8'));
  });
  if (unresolved.length === 0) return;
  throw new PlatformError(
    'SERVICE_UNRESOLVED_CONFLICTS',
    `${unresolved.length} file(s) still have conflict markers: ${unresolved.join(', ')}`,
    {
      hint: 'resolve the <<<<<<< … >>>>>>> blocks (keep what you want), then run `service upgrade` again',
      details: { files: unresolved },
    },
  );
}

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function saveMeta(dir: string, stored: StoredAnswers, files: Map<string, string>): void {
  const meta = join(dir, META);
  rmSync(join(meta, 'base'), { recursive: true, force: true });
  for (const [path, text] of files) write(join(meta, 'base', path), text);
  write(join(meta, 'base.json'), `${JSON.stringify([...files.keys()], null, 2)}\n`);
  write(join(meta, 'answers.json'), `${JSON.stringify(stored, null, 2)}\n`);
}

function readBase(dir: string): Map<string, string> {
  const list = JSON.parse(readFileSync(join(dir, META, 'base.json'), 'utf8')) as string[];
  return new Map(list.map((p) => [p, readFileSync(join(dir, META, 'base', p), 'utf8')]));
}

/** Adds the service to platform.yaml; every other line stays as the user wrote it. */
function registerService(configFile: string, name: string, spec: Record<string, unknown>): void {
  writeFileSync(configFile, addMappingEntry(readFileSync(configFile, 'utf8'), 'services', name, spec));
}
