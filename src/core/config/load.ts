/**
 * Finds, reads, overrides and validates platform.yaml — the one accessor every command uses.
 * Layers, lowest first: schema defaults, the file, `PLATFORMCTL_*` environment overrides.
 * Flags are applied by commands on top of the returned object.
 */
import { readFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { parse as parseScalar } from 'yaml';
import { ConfigError } from '../errors.ts';
import { CONFIG_FILE, locateConfigFile } from './locate.ts';
import { type PlatformConfig, platformSchema } from './schema.ts';
import {
  currentBuildId,
  overrideEntries,
  readValidated,
  validatedCacheKey,
  writeValidated,
} from './validated-cache.ts';
import { parseYaml, readYamlFile, validateWith, type YamlSource } from './yaml-source.ts';

export { CONFIG_FILE, findConfigFile } from './locate.ts';

/** A loaded platform: its validated config, the file it came from and the project directory. */
export interface LoadedPlatform {
  config: PlatformConfig;
  file: string;
  /** Directory holding platform.yaml; `.platform/` state lives beside it. */
  root: string;
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
  const file = locateConfigFile(cwd, explicit);
  const root = dirname(file);
  const display = relative(cwd, file) || CONFIG_FILE;
  const displayName = display.startsWith('..') ? file : display;
  // With a build id, the file is read once as text: its hash keys the validated-config cache.
  const buildId = currentBuildId();
  const text = buildId ? readText(file) : undefined;
  const key = buildId && text !== undefined ? validatedCacheKey(buildId, text, env) : undefined;
  const cached = key ? readValidated(root, key) : undefined;
  if (cached) return { config: cached, file, root };
  const source: YamlSource =
    text !== undefined ? parseYaml(text, displayName) : readYamlFile(file, displayName);
  const withOverrides = applyEnvOverrides(source.value, env);
  let config: PlatformConfig;
  try {
    config = validateWith(platformSchema, source, withOverrides);
  } catch (err) {
    throw err instanceof ConfigError ? blameOverrides(err, env) : err;
  }
  if (key) writeValidated(root, key, config);
  return { config, file, root };
}

/** The file's text, or undefined when it cannot be read (readYamlFile then reports why). */
function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
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
