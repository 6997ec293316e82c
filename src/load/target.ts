/** Where a scenario sends its load when neither the flag nor the file says: the local gateway. */
import { existsSync, readFileSync } from 'node:fs';

import { statePaths } from '../core/state-dir.ts';

export const DEFAULT_TARGET = 'http://127.0.0.1:8080';

/** The gateway URL recorded by `platformctl up` in `.platform/state.json`, if any. */
export function localGatewayUrl(root: string | undefined): string | undefined {
  const candidates = root ? [statePaths(root).state] : [];
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    try {
      const state = JSON.parse(readFileSync(file, 'utf8')) as { gatewayUrl?: unknown };
      if (typeof state.gatewayUrl === 'string' && state.gatewayUrl) return state.gatewayUrl;
    } catch {
      // A torn state file: fall back to the default.
    }
  }
  return undefined;
}

export function resolveTarget(
  flag: string | undefined,
  fromFile: string | undefined,
  root: string | undefined,
): string {
  return flag ?? fromFile ?? localGatewayUrl(root) ?? DEFAULT_TARGET;
}
