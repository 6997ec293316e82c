/** The `.platform/` directory beside platform.yaml: local state, logs, data, reports, audit log. */
import { mkdirSync } from 'node:fs';

export { STATE_DIR, statePaths } from '../../runtime/contract/state-paths.ts';

/** Creates a directory (and parents) if missing and returns it. */
export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
