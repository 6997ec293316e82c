/**
 * Builds a Dockerfile's application the way the Dockerfile says, without a container engine (none
 * runs on these machines): each stage gets a scratch root, `WORKDIR`, `COPY`, `COPY --from`, `ENV`
 * and `RUN` are carried out in it, with the image's absolute paths (`/src`, `/out`, `/app`, …)
 * mapped into that root. The runtime stage's `CMD` is then started with the image's `ENV` plus the
 * environment the caller gives (the manifests'), so what starts is what the image would start.
 *
 * One step is not run as written: `npm ci` would rebuild the native addons from source (their
 * prebuilt binaries come from GitHub, which is unreachable here); the lockfile's tree is already
 * installed in the repository, so it is hard-linked in its place. `npm prune --omit=dev` after it
 * runs for real, so a runtime import of a devDependency still fails the start. Like Docker's layer
 * cache, both results are kept under ~/.cache/platformctl-images keyed by package.json and the
 * lockfile, so four Dockerfiles with the same install steps install once (`layerCache: false`
 * keeps them in the scratch directory instead, for a context whose lockfile changes every run).
 *
 * `COPY . .` leaves out what the context's `.dockerignore` names, as Docker does.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, matchesGlob } from 'node:path';

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (!pending) start = i + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (m) out.push({ op: (m[1] as string).toUpperCase(), args: m[2] as string, line: start });
  });
  return out;
}

export interface Stage {
  name: string;
  from: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  cmd?: string[];
  user?: string;
  expose: number[];
}

export interface BuiltImage {
  /** The last stage, the one the image runs. */
  runtime: Stage;
  stages: Stage[];
  /** Maps an absolute path of the image to the scratch directory standing for it. */
  hostPath(stage: Stage, path: string): string;
  dispose(): void;
}

const ABSOLUTE = /(^|[\s=:'"])(\/(?:[\w.-]+\/?)*)/g;

/**
 * Builds every stage of `dockerfile` with `context` as the build context. `log` receives each
 * command as it runs.
 */
export function buildDockerfile(
  dockerfile: string,
  context: string,
  opts: { log?: (line: string) => void; layerCache?: boolean } = {},
): BuiltImage {
  const scratch = mkdtempSync(join(tmpdir(), 'pctl-image-'));
  const layers = opts.layerCache === false ? join(scratch, 'layers') : CACHE;
  const ignored = dockerignore(context);
  const stages: Stage[] = [];
  const hostPath = (stage: Stage, path: string) => join(stage.root, path);
  const resolveIn = (stage: Stage, path: string) =>
    path.startsWith('/') ? hostPath(stage, path) : join(hostPath(stage, stage.workdir), path);
  let stage: Stage | undefined;
  for (const ins of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
    const where = `${dockerfile}:${ins.line}`;
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`${where}: cannot read FROM ${ins.args}`);
      const name = m[2] ?? String(stages.length);
      stage = {
        name,
        from: m[1] as string,
        root: join(scratch, `stage-${stages.length}`),
        workdir: '/',
        env: {},
        expose: [],
      };
      mkdirSync(stage.root, { recursive: true });
      stages.push(stage);
      continue;
    }
    if (!stage) throw new Error(`${where}: ${ins.op} before FROM`);
    const current: Stage = stage;
    switch (ins.op) {
      case 'WORKDIR':
        current.workdir = ins.args.startsWith('/') ? ins.args : join(current.workdir, ins.args);
        mkdirSync(hostPath(current, current.workdir), { recursive: true });
        break;
      case 'ENV':
        for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g))
          current.env[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
        break;
      case 'EXPOSE':
        current.expose.push(...ins.args.split(/\s+/).map((p) => Number.parseInt(p, 10)));
        break;
      case 'USER':
        current.user = ins.args;
        break;
      case 'CMD':
        current.cmd = JSON.parse(ins.args) as string[];
        break;
      case 'COPY': {
        const words = ins.args.split(/\s+/);
        const fromFlag = words.find((w) => w.startsWith('--from='));
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop() as string;
        const source = fromFlag ? stages.find((s) => s.name === fromFlag.slice('--from='.length)) : undefined;
        if (fromFlag && !source) throw new Error(`${where}: no stage ${fromFlag}`);
        for (const p of paths) {
          const src = source ? hostPath(source, p) : join(context, p);
          const target =
            dest.endsWith('/') || paths.length > 1 || p === '.'
              ? join(resolveIn(current, dest), p === '.' ? '' : (p.split('/').pop() as string))
              : resolveIn(current, dest);
          copyInto(src, target, !source && p === '.' ? ignored : undefined);
        }
        break;
      }
      case 'RUN':
        run(current, ins.args, { log: opts.log, hostPath, context, layers });
        break;
      case 'HEALTHCHECK':
      case 'LABEL':
      case 'STOPSIGNAL':
      case 'ARG':
        break;
      default:
        throw new Error(`${where}: ${ins.op} is not supported by this builder`);
    }
  }
  const runtime = stages.at(-1);
  if (!runtime) throw new Error(`${dockerfile} has no FROM`);
  return { runtime, stages, hostPath, dispose: () => rmSync(scratch, { recursive: true, force: true }) };
}

/** The context's `.dockerignore` patterns (Docker's syntax: paths relative to the context, globs). */
function dockerignore(context: string): string[] {
  const file = join(context, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/^\/+|\/+$/g, ''));
}

/** A path is ignored when it or a directory above it matches a pattern (Docker's rule). */
function isIgnored(rel: string, patterns: string[]): boolean {
  const parts = rel.split('/');
  return parts.some((_, i) => {
    const prefix = parts.slice(0, i + 1).join('/');
    return patterns.some((p) => matchesGlob(prefix, p));
  });
}

function copyInto(src: string, target: string, ignore?: string[]): void {
  mkdirSync(dirname(target), { recursive: true });
  cpSync(src, target, {
    recursive: true,
    dereference: false,
    filter: ignore?.length
      ? (file) => file === src || !isIgnored(file.slice(src.length + 1), ignore)
      : undefined,
  });
}

interface RunContext {
  log?: (line: string) => void;
  hostPath: (stage: Stage, path: string) => string;
  /** The build context, whose installed tree stands in for `npm ci`. */
  context: string;
  /** Where install layers are kept. */
  layers: string;
}

function run(stage: Stage, command: string, { log, hostPath, context, layers }: RunContext): void {
  const cwd = hostPath(stage, stage.workdir);
  for (const part of command.split(/\s*&&\s*/)) {
    if (/^npm ci\b/.test(part)) {
      // See the module comment: the lockfile's tree, installed already, stands in for `npm ci`.
      log?.(`RUN ${part}  (the installed lockfile tree, hard-linked)`);
      execFileSync('cp', ['-al', installedLayer(cwd, context, layers), join(cwd, 'node_modules')]);
      // npm rewrites its hidden lockfile in place: a hard link would carry that into the repository.
      const hidden = join(cwd, 'node_modules', '.package-lock.json');
      if (existsSync(hidden)) {
        const text = readFileSync(hidden);
        rmSync(hidden);
        writeFileSync(hidden, text);
      }
      continue;
    }
    if (/^npm prune --omit=dev$/.test(part)) {
      const cached = layerDir(layers, cwd, 'pruned');
      log?.(`RUN ${part}${existsSync(cached) ? '  (cached layer)' : ''}`);
      if (!existsSync(cached)) {
        npm(cwd, ['prune', '--omit=dev'], stage.env);
        mkdirSync(dirname(cached), { recursive: true });
        renameSync(join(cwd, 'node_modules'), cached);
      } else rmSync(join(cwd, 'node_modules'), { recursive: true, force: true });
      symlinkSync(cached, join(cwd, 'node_modules'));
      continue;
    }
    const chown = /^chown\s+(?:-\S+\s+)*([\w-]+)(?::[\w-]+)?\s/.exec(part);
    if (chown && !userExists(chown[1] as string)) {
      // The base image's user; this machine has no such account and the test does not need it.
      log?.(`RUN ${part}  (skipped: no user ${chown[1]} here)`);
      continue;
    }
    const mapped = part.replace(ABSOLUTE, (_, lead: string, path: string) => lead + hostPath(stage, path));
    log?.(`RUN ${part}`);
    execFileSync('bash', ['-c', mapped], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...stage.env, npm_config_offline: 'true', npm_config_audit: 'false' },
    });
  }
}

const CACHE = join(homedir(), '.cache', 'platformctl-images');

/** A layer folder keyed by the manifest and lockfile in `dir`, as a layer cache would be. */
function layerDir(layers: string, dir: string, kind: string): string {
  const hash = createHash('sha256');
  for (const f of ['package.json', 'package-lock.json']) hash.update(readFileSync(join(dir, f)));
  hash.update(process.version);
  // Named node_modules: packages find their own dependencies by walking up to a `node_modules`.
  return join(layers, `${kind}-${hash.digest('hex').slice(0, 16)}`, 'node_modules');
}

/** The build context's installed tree for this lockfile (the lockfiles must match). */
function installedLayer(dir: string, repo: string, layers: string): string {
  const layer = layerDir(layers, dir, 'installed');
  if (existsSync(layer)) return layer;
  if (
    readFileSync(join(repo, 'package-lock.json'), 'utf8') !==
    readFileSync(join(dir, 'package-lock.json'), 'utf8')
  )
    throw new Error(`${dir}/package-lock.json differs from the installed ${repo}/package-lock.json`);
  const staging = `${layer}.tmp-${process.pid}`;
  mkdirSync(dirname(layer), { recursive: true });
  execFileSync('cp', ['-al', join(repo, 'node_modules'), staging]);
  renameSync(staging, layer);
  return layer;
}

function npm(cwd: string, args: string[], env: Record<string, string>): void {
  execFileSync('npm', args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...env,
      npm_config_offline: 'true',
      npm_config_audit: 'false',
      npm_config_fund: 'false',
    },
  });
}

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface StartedImage {
  url: string;
  logs(): string;
  stop(): Promise<void>;
}

/** Starts the runtime stage's CMD in its WORKDIR with the image's ENV plus `env`. */
export function startImage(image: BuiltImage, env: Record<string, string>): StartedImage {
  const { runtime } = image;
  if (!runtime.cmd?.length) throw new Error('the image has no CMD');
  const [cmd, ...args] = runtime.cmd as [string, ...string[]];
  let output = '';
  const child = spawn(cmd === 'node' ? process.execPath : cmd, args, {
    cwd: image.hostPath(runtime, runtime.workdir),
    env: { PATH: process.env.PATH ?? '', ...runtime.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return {
    url: `http://127.0.0.1:${env.PORT ?? runtime.env.PORT}`,
    logs: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** True when `file` exists in the image at `path`. */
export function imageHas(image: BuiltImage, stage: Stage, path: string): boolean {
  return existsSync(image.hostPath(stage, path));
}
