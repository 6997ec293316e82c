/** The `.platform/` directory beside platform.yaml: local state, logs, data, reports, audit log. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const STATE_DIR = '.platform';

/** Paths inside `.platform/` for a project rooted at `root`. */
export function statePaths(root: string) {
  const dir = join(root, STATE_DIR);
  return {
    dir,
    state: join(dir, 'state.json'),
    logs: join(dir, 'logs'),
    data: join(dir, 'data'),
    releases: join(dir, 'releases'),
    reports: join(dir, 'reports'),
    audit: join(dir, 'audit.log'),
  };
}

/** Creates a directory (and parents) if missing and returns it. */
export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
