/**
 * The validated-config cache: platform.yaml as the schema last accepted it, in
 * `.platform/cache/platform-config.json`, keyed by the file's text, the `PLATFORMCTL_*__*`
 * overrides in force and the platformctl build, compared in full (no hash: loading node:crypto
 * cost ~5 ms of CPU, a tenth of `status`, and comparing a few kB of text costs nothing). On an unchanged file, everyday
 * commands (`status`, `deploy`, `config validate`) skip the YAML parser and zod — evaluating the
 * bundled zod and building the schema were most of their start-up. Any change to the file, the
 * overrides or platformctl misses the cache and validates in full; only successes are cached, so a
 * broken file always reports its problems. Best effort: an unreadable or unwritable cache is a miss.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeJsonAtomic } from '../json-file.ts';
import { statePaths } from '../state-dir.ts';
import type { LoadedPlatform } from './load.ts';
import { locateConfigFile } from './locate.ts';
import type { PlatformConfig } from './schema.ts';

/** Injected by scripts/build.ts (new on every build); undefined when the sources run unbundled. */
declare const PLATFORMCTL_BUILD_ID: string | undefined;

/** The running build's id; without one (tests, unbundled sources) nothing is cached. */
export function currentBuildId(): string | undefined {
  return typeof PLATFORMCTL_BUILD_ID === 'string' ? PLATFORMCTL_BUILD_ID : undefined;
}

/** The config-path overrides (`PLATFORMCTL_A__B=…`) in `env`, as load.ts applies them. */
export function overrideEntries(env: NodeJS.ProcessEnv): [string, string][] {
  return Object.entries(env).filter(
    (e): e is [string, string] =>
      e[0].startsWith('PLATFORMCTL_') && e[0].includes('__') && e[1] !== undefined,
  );
}

/** What a validated config depends on: the build, the file's text and the overrides. */
export function validatedCacheKey(buildId: string, text: string, env: NodeJS.ProcessEnv): string {
  const overrides = overrideEntries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // JSON keeps the parts apart: no file text or value can pass for another part.
  return JSON.stringify([buildId, text, overrides]);
}

function cacheFile(root: string): string {
  return join(statePaths(root).dir, 'cache', 'platform-config.json');
}

/** The cached config of `root` when it was stored under `key`. */
export function readValidated(root: string, key: string): PlatformConfig | undefined {
  try {
    const entry = JSON.parse(readFileSync(cacheFile(root), 'utf8')) as { key?: unknown; config?: unknown };
    return entry.key === key && entry.config ? (entry.config as PlatformConfig) : undefined;
  } catch {
    return undefined;
  }
}

/** Stores `config` as the validated form of the file under `key` (errors ignored: a cache). */
export function writeValidated(root: string, key: string, config: PlatformConfig): void {
  try {
    const file = cacheFile(root);
    mkdirSync(dirname(file), { recursive: true });
    writeJsonAtomic(file, { key, config });
  } catch {
    // A read-only checkout simply validates every time.
  }
}

/**
 * The platform from the cache when platform.yaml, the overrides and the build are unchanged since
 * it was last validated; undefined otherwise (also when there is no file: the full loader reports
 * that). Never parses YAML or loads the schema.
 */
export function loadCachedPlatform(
  cwd: string,
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  buildId = currentBuildId(),
): LoadedPlatform | undefined {
  if (!buildId) return undefined;
  let file: string;
  let text: string;
  try {
    file = locateConfigFile(cwd, explicit);
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const root = dirname(file);
  const config = readValidated(root, validatedCacheKey(buildId, text, env));
  return config ? { config, file, root } : undefined;
}
