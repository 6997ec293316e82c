/**
 * The release each service runs after its last rollout ended (`.platform/pinned.json`), so that
 * `down` + `up` starts what was promoted instead of rebuilding the sources over it. Only releases
 * that went out through a rollout are pinned: the content-addressed versions `up` builds itself
 * (`<package version>-<8 hex>`) are rebuilt from the sources anyway, so they unpin the service and
 * source edits keep reaching it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../core/json-file.ts';
import { ensureDir, statePaths } from '../../core/state-dir.ts';

const BUILT_BY_UP = /-[0-9a-f]{8}$/;

function file(root: string): string {
  return join(statePaths(root).dir, 'pinned.json');
}

/** service → pinned version. */
export function readPinned(root: string): Record<string, string> {
  if (!existsSync(file(root))) return {};
  try {
    return JSON.parse(readFileSync(file(root), 'utf8')) as Record<string, string>;
  } catch {
    // A torn or hand-edited file pins nothing; `up` then builds the sources, as before pins.
    return {};
  }
}

/** Records what `service` runs once a rollout is over (see the module comment for what pins). */
export function recordRolloutEnd(root: string, service: string, version: string): void {
  const pinned = readPinned(root);
  if (BUILT_BY_UP.test(version)) delete pinned[service];
  else pinned[service] = version;
  ensureDir(statePaths(root).dir);
  writeJsonAtomic(file(root), pinned);
}

/** Forgets every pin (`up --from-source`). */
export function clearPinned(root: string): void {
  if (existsSync(file(root))) writeJsonAtomic(file(root), {});
}
