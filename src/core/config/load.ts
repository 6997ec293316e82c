/**
 * Finds, reads, overrides and validates platform.yaml — the one accessor every command uses.
 * Layers, lowest first: schema defaults, the file, `PLATFORMCTL_*` environment overrides.
 * Flags are applied by commands on top of the returned object.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseScalar } from 'yaml';
import { ConfigError, PlatformError } from '../errors.ts';
import { type PlatformConfig, platformSchema } from './schema.ts';
import { readYamlFile, validateWith } from './yaml-source.ts';

export const CONFIG_FILE = 'platform.yaml';

/** A loaded platform: its validated config, the file it came from and the project directory. */
export interface LoadedPlatform {
  config: PlatformConfig;
  file: string;
  /** Directory holding platform.yaml; `.platform/` state lives beside it. */
  root: string;
}

/** Looks for platform.yaml in `cwd` and its parents, like git does for `.git`. */
export function findConfigFile(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, CONFIG_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Loads the platform config. `explicit` is `--config` (or PLATFORMCTL_CONFIG); otherwise the file
 * is searched upwards from `cwd`.
 */
export function loadPlatform(
  cwd: string,
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
): LoadedPlatform {
  const file = explicit ? resolve(cwd, explicit) : findConfigFile(cwd);
  if (!file || !existsSync(file)) {
    throw new PlatformError(
      'CONFIG_NOT_FOUND',
      explicit ? `config file not found: ${explicit}` : `no ${CONFIG_FILE} in ${cwd} or its parents`,
      {
        hint: 'run `platformctl init` to create one, or pass --config <file> / -C <dir>',
      },
    );
  }
  const display = relative(cwd, file) || CONFIG_FILE;
  const source = readYamlFile(file, display.startsWith('..') ? file : display);
  const withOverrides = applyEnvOverrides(source.value, env);
  try {
    const config = validateWith(platformSchema, source, withOverrides);
    return { config, file, root: dirname(file) };
  } catch (err) {
    throw err instanceof ConfigError ? blameOverrides(err, env) : err;
  }
}

/**
 * Applies `PLATFORMCTL_A__B__C=value` as an override of key path `a.b.c` (lower-cased; `__`
 * separates levels). Only names containing `__` are config paths, so operational variables such as
 * PLATFORMCTL_MASTER_KEY are never mistaken for config. Values are parsed as YAML scalars
 * (`8080` is a number, `true` a boolean).
 */
export function applyEnvOverrides(value: unknown, env: NodeJS.ProcessEnv): unknown {
  const entries = overrideEntries(env);
  if (entries.length === 0) return value;
  const root = structuredClone(value ?? {}) as Record<string, unknown>;
  for (const [key, raw] of entries.sort(([a], [b]) => a.localeCompare(b))) {
    const path = overridePath(key);
    let parsed: unknown;
    try {
      parsed = parseScalar(raw);
    } catch {
      parsed = raw;
    }
    setPath(root, path, parsed, key);
  }
  return root;
}

/** Problems inside an overridden key are the environment variable's fault, not the file's. */
function blameOverrides(err: ConfigError, env: NodeJS.ProcessEnv): ConfigError {
  const overrides = overrideEntries(env).map(([key]) => ({ key, path: overridePath(key).join('.') }));
  if (overrides.length === 0) return err;
  return new ConfigError(
    err.problems.map((p) => {
      const culprit = overrides.find((o) => p.path === o.path || p.path.startsWith(`${o.path}.`));
      return culprit
        ? {
            ...p,
            file: `$${culprit.key}`,
            line: 1,
            column: 1,
            fix: p.fix ?? `correct or unset ${culprit.key}`,
          }
        : p;
    }),
  );
}

function overrideEntries(env: NodeJS.ProcessEnv): [string, string][] {
  return Object.entries(env).filter(
    (e): e is [string, string] =>
      e[0].startsWith('PLATFORMCTL_') && e[0].includes('__') && e[1] !== undefined,
  );
}

function overridePath(key: string): string[] {
  return key
    .slice('PLATFORMCTL_'.length)
    .split('__')
    .map((p) => p.toLowerCase());
}

function setPath(root: Record<string, unknown>, path: string[], value: unknown, envKey: string): void {
  let node: Record<string, unknown> = root;
  for (const [i, segment] of path.entries()) {
    if (i === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (next === undefined) node[segment] = {};
    else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
      throw new ConfigError([
        {
          file: `$${envKey}`,
          line: 1,
          column: 1,
          path: path.slice(0, i + 1).join('.'),
          message: `cannot override inside "${path.slice(0, i + 1).join('.')}": it is not a mapping`,
          fix: `unset ${envKey} or point it at a key inside a mapping`,
        },
      ]);
    }
    node = node[segment] as Record<string, unknown>;
  }
}
