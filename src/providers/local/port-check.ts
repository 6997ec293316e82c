/** Port allocation for instances, with an error that names whoever holds a busy port. */

import { PlatformError } from '../../core/errors.ts';
import { isPortFree, portHolder } from '../../core/ports.ts';

/** A busy port: which process holds it, and what to do. */
export function portInUseError(port: number, wantedBy: string): PlatformError {
  const holder = portHolder(port);
  const who = holder ? `process ${holder.pid} (${truncate(holder.command, 80)})` : 'another process';
  return new PlatformError('PORT_IN_USE', `port ${port} for ${wantedBy} is already in use by ${who}`, {
    hint: holder
      ? `stop it (kill ${holder.pid}) or give ${wantedBy.split(' ')[0]} another port in platform.yaml`
      : `free the port or give ${wantedBy.split(' ')[0]} another port in platform.yaml`,
    details: { port, holder },
  });
}

/** Throws PORT_IN_USE unless the port can be bound. */
export async function assertPortFree(port: number, wantedBy: string): Promise<void> {
  if (!(await isPortFree(port))) throw portInUseError(port, wantedBy);
}

/**
 * The next port for another instance: counting up from `base`, skipping ports reserved for other
 * services or used by our instances, and ports something else holds.
 */
export async function nextPort(base: number, reserved: ReadonlySet<number>, limit = 200): Promise<number> {
  for (let port = base; port < base + limit && port <= 65535; port++) {
    if (reserved.has(port)) continue;
    if (await isPortFree(port)) return port;
  }
  throw new PlatformError('NO_FREE_PORT', `no free port in ${base}–${base + limit - 1}`, {
    hint: 'stop processes holding these ports or move the service to another port range',
  });
}

/**
 * Where a service's instances beyond the first listen: 1000 above its configured port and up
 * (content on 8082 → 9082, 9083…), apart from the configured ports, so the port `service new`
 * gives the next service (the one after the configured ones) is never taken by a canary or a
 * scaled instance.
 */
export function extraInstanceBase(basePort: number): number {
  return basePort + EXTRA_INSTANCE_OFFSET <= 65_000 ? basePort + EXTRA_INSTANCE_OFFSET : basePort + 1;
}
const EXTRA_INSTANCE_OFFSET = 1000;

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
