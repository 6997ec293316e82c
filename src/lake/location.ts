/**
 * Where the lake is: `ANALYTICS_EXPORT_URL` (file:// or s3://) or `.platform/data/lake` beside
 * platform.yaml. `analytics export` writes there and `analytics query` reads there.
 */
import { join } from 'node:path';
import { statePaths } from '../core/state-dir.ts';

/** The lake's blob-store URL (credentials, if any, stay in the query string and the environment). */
export function lakeUrl(root: string, env: NodeJS.ProcessEnv): string {
  return env.ANALYTICS_EXPORT_URL || `file://${join(statePaths(root).data, 'lake')}`;
}

/** The URL without its query string, for messages. */
export function shownUrl(url: string): string {
  return url.replace(/\?.*$/, '');
}
