/**
 * The configuration the local platform was last started with, kept in `.platform/` so that a
 * running platform can still be stopped, inspected and read (`down`, `status`, `top`, `logs`)
 * after someone breaks platform.yaml: an operator should not have to fix a typo first to take a
 * platform down.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeJsonAtomic } from '../json-file.ts';
import { ensureDir, statePaths } from '../state-dir.ts';
import { CONFIG_FILE, findConfigFile, type LoadedPlatform, loadPlatform } from './load.ts';
import type { PlatformConfig } from './schema.ts';

/** `.platform/running-config.json` beside the config file of `platform`. */
function snapshotFile(root: string): string {
  return join(statePaths(root).dir, 'running-config.json');
}

/** Records the validated configuration `up` starts the platform with. */
export function saveRunningConfig(platform: LoadedPlatform): void {
  ensureDir(statePaths(platform.root).dir);
  writeJsonAtomic(snapshotFile(platform.root), platform.config);
}

/**
 * Loads platform.yaml; when it does not load but the platform was started from it, returns the
 * configuration it was started with and reports why through `warn`. Other failures (no file, no
 * snapshot) are thrown as loadPlatform throws them.
 */
export function loadPlatformOrRunning(
  cwd: string,
  explicit: string | undefined,
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void,
): LoadedPlatform {
  try {
    return loadPlatform(cwd, explicit, env);
  } catch (err) {
    const file = explicit ? resolve(cwd, explicit) : findConfigFile(cwd);
    const snapshot = file ? snapshotFile(dirname(file)) : undefined;
    if (!file || !snapshot || !existsSync(snapshot)) throw err;
    const config = JSON.parse(readFileSync(snapshot, 'utf8')) as PlatformConfig;
    warn(
      `${CONFIG_FILE} does not load (${(err as Error).message.split('\n')[0]}); using the configuration the platform was started with, from ${snapshot}. Fix the file before the next \`up\`.`,
    );
    return { config, file, root: dirname(file) };
  }
}
