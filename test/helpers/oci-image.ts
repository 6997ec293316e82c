/**
 * Real OCI images from the Dockerfiles, built daemonless with buildah (vfs storage, chroot
 * isolation: no daemon, no overlay mounts, no user namespaces needed) and run with `buildah run`
 * (`podman run` fails on these machines: crun cannot set RLIMIT_NOFILE).
 *
 * One deviation from the Dockerfiles: their `FROM node:…@sha256:…` cannot be pulled (no registry
 * but Debian's, npm's and a few others is reachable here), so it is replaced by a local base made
 * the same way the official image is — Debian bookworm (the debootstrap root test/helpers/
 * debian-root.ts caches), Node 24 in /usr/local/bin, npm, a `node` user with uid 1000. Every other
 * instruction runs as written. The base is built once and kept in a buildah store under
 * ~/.cache/platformctl-buildah, tagged with a hash of its recipe. The images built from it are not
 * cached: vfs stores every layer as a full copy (a runtime image's build stage takes several GB),
 * so no intermediate layers are kept and tests remove what they built.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedRootfs, rootfsUnavailable } from './debian-root.ts';

const STORE = join(homedir(), '.cache', 'platformctl-buildah');
const STORAGE = [
  '--root',
  join(STORE, 'storage'),
  '--runroot',
  join(STORE, 'run'),
  '--storage-driver',
  'vfs',
];
const NODE_BIN = process.execPath;
/** npm for the image: the one beside this Node, else the machine's. */
const NPM_DIR = [join(NODE_BIN, '..', '..', 'lib', 'node_modules', 'npm'), '/usr/lib/node_modules/npm'].find(
  (d) => existsSync(join(d, 'package.json')),
);
const FROM_NODE = /^FROM\s+node:\S+/gim;

/** Why real images cannot be built here, or undefined when they can. */
export function ociUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'buildah with vfs storage and chroot isolation needs root';
  if (spawnSync('buildah', ['--version'], { stdio: 'ignore' }).status !== 0)
    return 'buildah is not installed (apt-get install buildah)';
  if (!NPM_DIR) return 'no npm installation to put into the base image';
  const rootfs = rootfsUnavailable();
  return rootfs ? `no Debian root for the base image: ${rootfs}` : undefined;
}

function buildah(args: string[], timeoutMs = 30 * 60_000): string {
  try {
    return execFileSync('buildah', [...STORAGE, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
    }).trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `buildah ${args.join(' ')} failed:\n${(e.stdout ?? '').slice(-4000)}${e.stderr ?? e.message}`,
    );
  }
}

function imageExists(ref: string): boolean {
  return (
    spawnSync('buildah', [...STORAGE, 'inspect', '--type', 'image', ref], { stdio: 'ignore' }).status === 0
  );
}

/** The commands that make the base, after the Debian root and Node are copied in. */
const SETUP = [
  'ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm',
  'ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx',
  'groupadd --gid 1000 node',
  'useradd --uid 1000 --gid node --create-home --shell /bin/sh node',
].join(' && ');

/** The local stand-in for `node:24-bookworm-slim`, built once per recipe. */
export function baseImage(): string {
  const rootfs = cachedRootfs();
  const npmVersion = (
    JSON.parse(readFileSync(join(NPM_DIR as string, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const key = createHash('sha256')
    .update([SETUP, process.version, npmVersion, rootfs, String(statSync(rootfs).size)].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const ref = `localhost/platformctl-node-base:${key}`;
  if (imageExists(ref)) return ref;
  const ctr = buildah(['from', 'scratch']);
  try {
    buildah(['add', ctr, rootfs, '/']);
    buildah(['copy', ctr, NODE_BIN, '/usr/local/bin/node']);
    buildah(['copy', ctr, NPM_DIR as string, '/usr/local/lib/node_modules/npm']);
    buildah(['run', '--isolation', 'chroot', ctr, '--', 'sh', '-c', SETUP]);
    buildah(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ctr]);
    buildah(['commit', '--quiet', ctr, ref]);
  } finally {
    buildah(['rm', ctr]);
  }
  return ref;
}

export interface OciImage {
  ref: string;
  /** The Dockerfile as built: the original with its `FROM node:…` lines pointed at the base. */
  dockerfile: string;
  remove(): void;
}

/**
 * `buildah build` of `dockerfile` in `context` (its .dockerignore applies) into `ref`. `volumes`
 * are build-time mounts for RUN steps (`host:container[:ro]`), e.g. a package a registry would
 * serve. npm's cache is shared with the host, as a cache mount would be.
 */
export function buildOci(dockerfile: string, context: string, ref: string, volumes: string[] = []): OciImage {
  const base = baseImage();
  const original = readFileSync(dockerfile, 'utf8');
  const text = original.replace(FROM_NODE, `FROM ${base}`);
  if (text === original) throw new Error(`${dockerfile} has no FROM node:… line to point at the local base`);
  const dir = mkdtempSync(join(tmpdir(), 'pctl-oci-'));
  const file = join(dir, 'Dockerfile');
  writeFileSync(file, text);
  try {
    const npmCache = join(homedir(), '.npm');
    buildah([
      'build',
      '--isolation',
      'chroot',
      '--network',
      'host',
      '--layers=false',
      ...[`${npmCache}:/root/.npm`, ...volumes].flatMap((v) => ['--volume', v]),
      '--file',
      file,
      '--tag',
      ref,
      context,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    ref,
    dockerfile: text,
    remove: () => {
      spawnSync('buildah', [...STORAGE, 'rmi', '--force', ref], { stdio: 'ignore' });
    },
  };
}

interface ImageConfig {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
}

/** The image's OCI config (CMD, ENV, WORKDIR, USER). */
export function imageConfig(ref: string): ImageConfig {
  return (JSON.parse(buildah(['inspect', '--type', 'image', ref])) as { OCIv1: { config: ImageConfig } })
    .OCIv1.config;
}

export interface RunningOci {
  url: string;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Runs the image's CMD as its USER in its WORKDIR with its ENV plus `env`, on the host's network
 * (chroot isolation has no network namespace of its own).
 */
export function runOci(ref: string, env: Record<string, string>): RunningOci {
  const config = imageConfig(ref);
  const cmd = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  if (cmd.length === 0) throw new Error(`${ref} has no CMD`);
  const ctr = buildah(['from', ref]);
  buildah(['config', ...Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]), ctr]);
  let output = '';
  // Its own process group: stopping it stops buildah, its chroot runtime and the app together.
  const child = spawn(
    'buildah',
    [...STORAGE, 'run', '--isolation', 'chroot', '--network', 'host', ctr, '--', ...cmd],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  return {
    url: `http://127.0.0.1:${env.PORT}`,
    logs: () => output,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
      spawnSync('buildah', [...STORAGE, 'rm', ctr], { stdio: 'ignore' });
    },
  };
}
