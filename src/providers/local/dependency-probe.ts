/**
 * Which backends a service's instances cannot reach, read from their `/health/dependencies`
 * (runtime/lib/dependency-health.ts), so `status`, `top` and the dashboard can say why requests
 * fail: "database down since 12:03:05". Instances that do not answer are skipped (their own state
 * already says so).
 */
import type { DependencyState } from '../../../runtime/lib/dependency-health.ts';
import type { DependencyDown, InstanceStatus } from '../provider.ts';

const PROBE_TIMEOUT_MS = 800;

/** The backends down for at least one instance, each with the earliest `since` seen. */
export async function downDependencies(instances: readonly InstanceStatus[]): Promise<DependencyDown[]> {
  const live = instances.filter((i) => i.state === 'ready' || i.state === 'unhealthy');
  const answers = await Promise.all(
    live.map(async (i) => {
      try {
        const res = await fetch(`${i.url}/health/dependencies`, {
          signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
        });
        if (!res.ok) return undefined;
        return ((await res.json()) as { dependencies?: Record<string, DependencyState> }).dependencies;
      } catch {
        return undefined;
      }
    }),
  );
  const down = new Map<string, DependencyDown>();
  for (const deps of answers) {
    for (const [name, d] of Object.entries(deps ?? {})) {
      if (d.status !== 'down') continue;
      const prior = down.get(name);
      if (!prior || d.since < prior.since) {
        down.set(name, { dependency: name, since: d.since, ...(d.error ? { error: d.error } : {}) });
      }
    }
  }
  return [...down.values()];
}
