/**
 * Immutable, versioned releases of a service: one esbuild bundle (ESM, node platform) of the
 * service's `src/main.ts` — `main.mjs` and the chunks it imports lazily — the protos it serves or
 * calls (gRPC services and clients load them at run time, from `proto/` beside the bundle; see
 * releaseProtos) and a manifest, under `.platform/releases/<service>/<version>/`. The
 * local provider runs releases, never sources, so two versions can run side by side (canaries).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { Plugin } from 'esbuild';
import type { LoadedPlatform } from '../../core/config/load.ts';
import { PlatformError, UsageError, unknownServiceError } from '../../core/errors.ts';
import { ensureDir, statePaths } from '../../core/state-dir.ts';
import { bindBuiltins, RELEASE_BANNER } from './release-builtins.ts';
import { lazyRequires } from './release-lazy-requires.ts';

export interface ReleaseManifest {
  service: string;
  version: string;
  gitSha: string;
  createdAt: string;
  /** sha256 of the release's files (entry, chunks, protos; see releaseChecksum), hex. */
  checksum: string;
  /** Bundle file name inside the release directory. */
  entry: string;
  /** Source entry the bundle was made from. */
  source: string;
}

export interface Release extends ReleaseManifest {
  dir: string;
  /** Absolute path of the bundle, what `node` runs. */
  entryPath: string;
}

/** Native addons cannot be bundled; they load from platformctl's node_modules at run time. */
export const NATIVE_EXTERNALS = ['better-sqlite3', 'argon2', 'sharp', 'esbuild', 'pino-pretty'];
/**
 * Packages that read their own files at run time (`__dirname`-relative protos: grpc-js's channelz
 * and xDS protos, reflection's protos) and so cannot be bundled either.
 */
export const FILE_EXTERNALS = ['@grpc/grpc-js', '@grpc/proto-loader', '@grpc/reflection'];
const ENTRY_NAME = 'main';
const BUNDLE = `${ENTRY_NAME}.mjs`;
/** Where esbuild places the outputs in memory (`write: false`: nothing is written there). */
const OUTDIR = resolve('release-bundle');

/**
 * Packages a service imports lazily (`await import('undici')`) stay real imports, resolved from
 * platformctl's node_modules at run time as the native addons are: bundled into a split chunk, a
 * CommonJS package would lose its named exports (esbuild gives such a chunk a default export only,
 * where Node's own loader finds the names). The service's own lazily imported modules are bundled.
 */
const lazyPackagesExternal: Plugin = {
  name: 'lazy-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined,
    );
  },
};

/**
 * sha256 over the release's files (the entry and its chunks in name order, then the protos), each
 * as its name, NUL, its length, NUL and its bytes: one figure that any changed file changes.
 */
function releaseChecksum(files: readonly { name: string; contents: Uint8Array }[]): string {
  const hash = createHash('sha256');
  for (const f of files) hash.update(`${f.name}\0${f.contents.length}\0`).update(f.contents);
  return hash.digest('hex');
}

const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The platformctl installation root (where runtime/ and node_modules/ live). */
export function packageRoot(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 8; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'platformctl') return dir;
      } catch {
        // keep looking upwards
      }
    }
    dir = dirname(dir);
  }
  throw new PlatformError('INSTALL_BROKEN', 'cannot find the platformctl installation directory', {
    source: 'internal',
  });
}

/** Source entry of a service: `runtime/<name>/src/main.ts` for `builtin:<name>`, else `<path>/src/main.ts`. */
export function sourceEntry(platform: LoadedPlatform, service: string): string {
  const spec = platform.config.services[service];
  if (!spec) throw unknownServiceError(platform.config.services, service);
  const entry = spec.path.startsWith('builtin:')
    ? join(packageRoot(), 'runtime', spec.path.slice('builtin:'.length), 'src', 'main.ts')
    : join(resolve(platform.root, spec.path), 'src', 'main.ts');
  if (!existsSync(entry)) {
    throw new PlatformError('SOURCE_NOT_FOUND', `service "${service}" has no entry point at ${entry}`, {
      hint: spec.path.startsWith('builtin:')
        ? 'this platformctl installation lacks that runtime service; reinstall or update platformctl'
        : `create ${relative(platform.root, entry)} or fix services.${service}.path in platform.yaml`,
    });
  }
  return entry;
}

function gitSha(dir: string): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(dir: string): string {
  for (let d = dir, i = 0; i < 6; i++, d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg)) {
      try {
        const v = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version;
        if (v) return v;
      } catch {
        // fall through
      }
    }
  }
  return '0.0.0';
}

const PROTO_DIR = 'proto';

/** One `.proto` a release carries: its path under the release's `proto/`, and where it comes from. */
interface ReleaseProto {
  name: string;
  path: string;
}

/**
 * The `.proto` files a release carries under `proto/`: those of the service's own `proto/`
 * directory, and those of every other `proto/` directory the bundle took a module from (a service's
 * typed API beside its proto, e.g. runtime/auth/proto/auth-api.ts in content, which calls auth), so
 * a client finds the protos of the services it calls beside its bundle too. Two different files
 * under one name cannot both be there: that is a build error.
 */
function releaseProtos(serviceDir: string, bundledInputs: readonly string[]): ReleaseProto[] {
  const dirs = new Set([join(serviceDir, PROTO_DIR)]);
  for (const input of bundledInputs) if (basename(dirname(input)) === PROTO_DIR) dirs.add(dirname(input));
  const byName = new Map<string, ReleaseProto>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir, { recursive: true }) as string[]) {
      if (!name.endsWith('.proto')) continue;
      const path = join(dir, name);
      const known = byName.get(name);
      if (known && !readFileSync(known.path).equals(readFileSync(path))) {
        throw new PlatformError(
          'RELEASE_BUILD_FAILED',
          `two different protos named ${name}: ${known.path} and ${path}`,
          {
            hint: 'give one of them another file name',
          },
        );
      }
      byName.set(name, { name, path });
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function releaseDir(root: string, service: string, version: string): string {
  return join(statePaths(root).releases, service, version);
}

export function readRelease(root: string, service: string, version: string): Release | undefined {
  const dir = releaseDir(root, service, version);
  const file = join(dir, 'manifest.json');
  if (!existsSync(file)) return undefined;
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as ReleaseManifest;
  return { ...manifest, dir, entryPath: join(dir, manifest.entry) };
}

/** Releases of a service (or all services), oldest first. */
export function listReleases(root: string, service?: string): Release[] {
  const base = statePaths(root).releases;
  if (!existsSync(base)) return [];
  const services = service ? [service] : readdirSync(base);
  const out: Release[] = [];
  for (const s of services) {
    const dir = join(base, s);
    if (!existsSync(dir)) continue;
    for (const v of readdirSync(dir)) {
      const r = readRelease(root, s, v);
      if (r) out.push(r);
    }
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export function requireRelease(root: string, service: string, version: string): Release {
  const r = readRelease(root, service, version);
  if (!r) {
    throw new PlatformError('RELEASE_NOT_FOUND', `no release ${service}@${version}`, {
      hint: `build it: platformctl release build ${service} --release ${version}`,
    });
  }
  return r;
}

export interface BuildOptions {
  /** Explicit version; default: the next version (see nextVersion), or the content's with `reuse`. */
  version?: string;
  /**
   * Version by content (`<package version>-<sha256 of the bundle, 8 chars>`) and reuse an identical
   * release: what `up` does, so starting unchanged sources builds nothing.
   */
  reuse?: boolean;
  /** Bundle and checksum in memory only; write nothing (`built` says whether it would be new). */
  dryRun?: boolean;
}

export interface BuildResult {
  release: Release;
  /** False when an identical release already existed and was reused. */
  built: boolean;
}

/**
 * The version `release build` gives when none is asked for: one patch above the newest
 * `X.Y.Z`-shaped release of the service (0.1.0-1a2b3c4d → 0.1.1, 2.0.0 → 2.0.1), else the package
 * version. A release someone asked for is a new version even when the sources did not change, so
 * it can always be deployed over what runs.
 */
export function nextVersion(root: string, service: string, base: string): string {
  const triples = listReleases(root, service)
    .map((r) => /^v?(\d+)\.(\d+)\.(\d+)/.exec(r.version))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[1]), Number(m[2]), Number(m[3])] as const);
  if (triples.length === 0) return base;
  const [major, minor, patch] = triples.reduce((a, b) =>
    a[0] !== b[0] ? (a[0] > b[0] ? a : b) : a[1] !== b[1] ? (a[1] > b[1] ? a : b) : a[2] >= b[2] ? a : b,
  );
  let next = `${major}.${minor}.${patch + 1}`;
  // A hand-named release may already hold it (e.g. 0.1.1 built with --release).
  for (let p = patch + 2; readRelease(root, service, next); p++) next = `${major}.${minor}.${p}`;
  return next;
}

/**
 * Bundles a service and stores it as an immutable release, under the version asked for, else the
 * next version (nextVersion), else (with `reuse`) one derived from the bundle's content so that
 * unchanged sources reuse their release; an explicit version that exists already is refused
 * (releases never change).
 */
export async function buildRelease(
  platform: LoadedPlatform,
  service: string,
  opts: BuildOptions = {},
): Promise<BuildResult> {
  if (opts.version !== undefined && !VERSION.test(opts.version)) {
    throw new UsageError(
      `invalid version "${opts.version}"`,
      'use letters, digits, dots, dashes and underscores (max 64), e.g. 1.2.0 or v2',
    );
  }
  const source = sourceEntry(platform, service);
  const { build } = await import('esbuild');
  let result: Awaited<ReturnType<typeof build>>;
  try {
    result = await build({
      entryPoints: { [ENTRY_NAME]: source },
      bundle: true,
      // Modules a service imports lazily (the S3, PostgreSQL, RabbitMQ and Kafka backends…) go to
      // chunks read only when used: one 8 MB file was parsed on every start, and a cold start (what
      // every restart waits for) took about twice the CPU (issue 21).
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      format: 'esm',
      platform: 'node',
      target: 'node22',
      write: false,
      outdir: OUTDIR,
      external: [...NATIVE_EXTERNALS, ...FILE_EXTERNALS],
      logLevel: 'silent',
      legalComments: 'none',
      plugins: [lazyPackagesExternal, lazyRequires(packageRoot())],
      // Which modules went in: the protos of the services the bundle calls go with it.
      metafile: true,
      banner: { js: RELEASE_BANNER },
    });
  } catch (err) {
    const errors =
      (err as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors ?? [];
    const first = errors[0];
    throw new PlatformError(
      'RELEASE_BUILD_FAILED',
      `cannot bundle ${service}: ${first ? `${first.location ? `${first.location.file}:${first.location.line}: ` : ''}${first.text}` : (err as Error).message}`,
      { hint: 'fix the error in the service source and build again', cause: err },
    );
  }
  const files = (result.outputFiles ?? [])
    .map((f) => ({
      name: relative(OUTDIR, f.path),
      contents: f.path.endsWith('.mjs') ? Buffer.from(bindBuiltins(f.text)) : f.contents,
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!files.some((f) => f.name === BUNDLE))
    throw new PlatformError('RELEASE_BUILD_FAILED', `esbuild produced no bundle for ${service}`);
  const inputs = Object.keys(result.metafile?.inputs ?? {}).map((input) => resolve(input));
  const protos = releaseProtos(dirname(dirname(source)), inputs);
  // A proto is part of what a release serves: a changed proto is a new release even if the code is not.
  const checksum = releaseChecksum([
    ...files,
    ...protos.map((proto) => ({ name: `${PROTO_DIR}/${proto.name}`, contents: readFileSync(proto.path) })),
  ]);
  const base = packageVersion(dirname(source));
  const version =
    opts.version ??
    (opts.reuse ? `${base}-${checksum.slice(0, 8)}` : nextVersion(platform.root, service, base));
  const existing = readRelease(platform.root, service, version);
  if (existing) {
    if (opts.reuse && existing.checksum === checksum) {
      return { release: existing, built: false };
    }
    throw new PlatformError(
      'RELEASE_EXISTS',
      `release ${service}@${version} already exists; releases are immutable`,
      {
        hint: 'build under a new version: --release <next>',
      },
    );
  }
  const dir = releaseDir(platform.root, service, version);
  // sourceEntry() gives an absolute path, so a dry run shows the manifest a build would write.
  const manifest: ReleaseManifest = {
    service,
    version,
    gitSha: gitSha(dirname(source)),
    createdAt: new Date().toISOString(),
    checksum,
    entry: BUNDLE,
    source,
  };
  if (opts.dryRun) return { release: { ...manifest, dir, entryPath: join(dir, BUNDLE) }, built: true };
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  ensureDir(tmp);
  for (const f of files) {
    ensureDir(dirname(join(tmp, f.name)));
    writeFileSync(join(tmp, f.name), f.contents);
  }
  for (const proto of protos) {
    ensureDir(dirname(join(tmp, PROTO_DIR, proto.name)));
    copyFileSync(proto.path, join(tmp, PROTO_DIR, proto.name));
  }
  // Externals (native addons) resolve from here: Node looks for node_modules beside the bundle.
  symlinkSync(join(packageRoot(), 'node_modules'), join(tmp, 'node_modules'), 'dir');
  writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  ensureDir(dirname(dir));
  try {
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another build of the same content won the race; that release is as good as ours.
    const raced = readRelease(platform.root, service, version);
    if (raced && raced.checksum === checksum) return { release: raced, built: false };
    throw err;
  }
  return { release: { ...manifest, dir, entryPath: join(dir, BUNDLE) }, built: true };
}
