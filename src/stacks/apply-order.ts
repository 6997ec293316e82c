/**
 * The order stacks are planned and applied in: a stack is planned only after every stack whose
 * outputs it reads (its `dependsOn`, through remote state) has been applied, since a fresh
 * environment's dependent stack cannot plan against state that does not exist yet. Dependencies
 * outside the selection are taken as applied already.
 */
import { PlatformError } from '../core/errors.ts';

export interface Orderable {
  name: string;
  dependsOn: string[];
}

/** Topological order, keeping the given order among stacks that do not depend on each other. */
export function applyOrder<T extends Orderable>(stacks: T[]): T[] {
  const selected = new Map(stacks.map((s) => [s.name, s]));
  const done = new Set<string>();
  const out: T[] = [];
  const visiting = new Set<string>();
  const visit = (s: T, path: string[]): void => {
    if (done.has(s.name)) return;
    if (visiting.has(s.name)) {
      throw new PlatformError(
        'STACK_CYCLE',
        `stacks read each other's state in a cycle: ${[...path, s.name].join(' -> ')}`,
        {
          hint: 'this is a bug in the synthesized stacks: report it with `platformctl synth --json`',
          source: 'internal',
        },
      );
    }
    visiting.add(s.name);
    for (const dep of s.dependsOn) {
      const d = selected.get(dep);
      if (d) visit(d, [...path, s.name]);
    }
    visiting.delete(s.name);
    done.add(s.name);
    out.push(s);
  };
  for (const s of stacks) visit(s, []);
  return out;
}
