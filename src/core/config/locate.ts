/**
 * Where platform.yaml is: `--config` (or PLATFORMCTL_CONFIG) when given, else the nearest one in
 * the working directory or its parents. Kept apart from the loader so that finding the file costs
 * no YAML parser and no schema (see validated-cache.ts).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PlatformError } from '../errors.ts';

export const CONFIG_FILE = 'platform.yaml';

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

/** The config file to load; CONFIG_NOT_FOUND when there is none. */
export function locateConfigFile(cwd: string, explicit?: string): string {
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
  return file;
}
