/** Start order from `dependsOn`: dependencies first; stop order is the reverse. */
import { PlatformError } from '../../core/errors.ts';
import type { ServicePlan } from './service-plan.ts';

/**
 * Topological order of `services` (a map name → dependencies). Ties keep declaration order so the
 * order is stable and predictable. A cycle is an error naming the services on it.
 */
export function startOrder(services: Record<string, readonly string[]>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new PlatformError(
        'DEPENDENCY_CYCLE',
        `services depend on each other in a cycle: ${cycle.join(' → ')}`,
        {
          hint: 'remove one of these dependsOn entries in platform.yaml',
        },
      );
    }
    state.set(name, 'visiting');
    for (const dep of services[name] ?? []) if (dep in services) visit(dep, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of Object.keys(services)) visit(name, []);
  return order;
}

/** `wanted` plus everything it depends on (transitively), in start order. */
export function withDependencies(services: Record<string, readonly string[]>, wanted: string[]): string[] {
  const keep = new Set<string>();
  const add = (name: string): void => {
    if (keep.has(name)) return;
    keep.add(name);
    for (const dep of services[name] ?? []) add(dep);
  };
  for (const name of wanted) add(name);
  return startOrder(services).filter((n) => keep.has(n));
}

/** Groups services by dependency depth: depth 0 has no dependencies among `plans`. */
export function depthLevels(plans: ServicePlan[]): ServicePlan[][] {
  const byName = new Map(plans.map((p) => [p.name, p]));
  const depth = new Map<string, number>();
  const visit = (p: ServicePlan, stack: Set<string>): number => {
    const known = depth.get(p.name);
    if (known !== undefined) return known;
    if (stack.has(p.name)) return 0;
    stack.add(p.name);
    let d = 0;
    for (const dep of p.dependsOn) {
      const q = byName.get(dep);
      if (q) d = Math.max(d, visit(q, stack) + 1);
    }
    stack.delete(p.name);
    depth.set(p.name, d);
    return d;
  };
  const levels: ServicePlan[][] = [];
  for (const p of plans) {
    const d = visit(p, new Set());
    const level = levels[d] ?? [];
    level.push(p);
    levels[d] = level;
  }
  return levels.filter(Boolean);
}
