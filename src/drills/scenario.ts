/**
 * Drill scenarios (`drills/*.yaml`): a realistic incident with a hidden fault, the page the on-call
 * gets (the symptom, never the cause), three graded hints, the root cause, the probes that must
 * pass before the drill can be resolved, and the mitigations expected (the postmortem's action
 * items). Faults reuse the chaos actions; the only drill-specific one is `bad-release` (a canary
 * left half-rolled-out), which is a delivery state rather than a fault the chaos engine injects.
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { type Action, actionSchema, probeSchema } from '../chaos/experiment.ts';
import { readYamlFile, validateWith } from '../core/config/yaml-source.ts';
import { durationSchema } from '../core/duration-schema.ts';
import { PlatformError } from '../core/errors.ts';

const strict = z.strictObject;

const badRelease = strict({
  action: z.literal('bad-release'),
  target: strict({ service: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/) }),
  /** Share of the bad version's requests that fail with 500. */
  errorPercent: z.number().gt(0).max(100).default(80),
  /** Traffic share left on the bad version. */
  weight: z.number().gt(0).lt(100).default(50),
});

const chaosActions = actionSchema.options.filter((o) => o.shape.action.value !== 'pause');
export const drillFaultSchema = z
  .discriminatedUnion('action', [...(chaosActions as unknown as [typeof badRelease]), badRelease])
  .superRefine((a, ctx) => {
    const action = a as { action: string; every?: unknown; dependency?: string; duration?: unknown };
    // A drill's fault must be undoable by a later CLI process: nothing held in memory.
    if (action.action === 'kill-instance' && action.every !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['every'],
        message: 'a repeating kill needs a running process; drills inject once (remove `every`)',
      });
    if (action.action === 'partition' && (action.dependency === 'bus' || action.dependency === 'db'))
      ctx.addIssue({
        code: 'custom',
        path: ['dependency'],
        message:
          'bus/db partitions hold a SQLite lock in the injecting process; in a drill partition a service instead (it is paused with SIGSTOP)',
      });
    if (action.action === 'cpu-stress' || action.action === 'clock-skew')
      ctx.addIssue({
        code: 'custom',
        path: ['action'],
        message: `${action.action} cannot outlive the CLI; use it in a chaos experiment instead`,
      });
    if (action.duration !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['duration'],
        message: 'a drill fault lasts until the on-call mitigates it or the drill ends; remove `duration`',
      });
  });
export type BadReleaseFault = z.output<typeof badRelease>;
export type DrillFault = Exclude<Action, { action: 'pause' }> | BadReleaseFault;

export const scenarioSchema = strict({
  title: z.string().min(1),
  severity: z.enum(['SEV1', 'SEV2', 'SEV3']),
  description: z.string().optional(),
  /** The hidden fault(s), injected in order. */
  fault: z.array(drillFaultSchema as unknown as z.ZodType<DrillFault>).min(1),
  /** What the pager says: the symptom as an alert would phrase it, not the cause. */
  page: z.string().min(1),
  /** Graded hints: a nudge, a direction, then nearly the answer. */
  hints: z.array(z.string().min(1)).length(3, { error: 'give exactly 3 hints, from vague to specific' }),
  rootCause: z.string().min(1),
  resolution: strict({
    probes: z.array(probeSchema).min(1),
  }),
  /** Commands that mitigate the incident (shown after the drill and in the postmortem). */
  mitigation: z.array(z.string().min(1)).min(1),
  /** Follow-ups the postmortem proposes. */
  actionItems: z.array(z.string().min(1)).default([]),
  runbook: z.string().optional(),
  /** Scoring targets. */
  targets: strict({
    acknowledge: durationSchema.default(120_000),
    mitigate: durationSchema.default(600_000),
  }).default({ acknowledge: 120_000, mitigate: 600_000 }),
});
export type ScenarioSpec = z.output<typeof scenarioSchema>;

export interface Scenario extends ScenarioSpec {
  name: string;
  file: string;
}

/** Reads and validates one scenario file; problems come back as file:line:column. */
export function loadScenario(file: string, display = file): Scenario {
  const spec = validateWith(scenarioSchema, readYamlFile(file, display));
  return { ...spec, name: basename(file).replace(/\.ya?ml$/, ''), file };
}

/** Scenario files in these directories, first directory wins on a name clash. */
export function scenarioFiles(dirs: string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      if (!/\.ya?ml$/.test(f)) continue;
      const name = f.replace(/\.ya?ml$/, '');
      if (!found.has(name)) found.set(name, join(dir, f));
    }
  }
  return found;
}

export function findScenario(dirs: string[], name: string): Scenario {
  const files = scenarioFiles(dirs);
  const file = files.get(name);
  if (!file) {
    throw new PlatformError('UNKNOWN_SCENARIO', `no drill scenario "${name}"`, {
      hint: `scenarios: ${[...files.keys()].join(', ') || '(none found)'}; see \`platformctl drill list\``,
    });
  }
  return loadScenario(file);
}

/** Deterministic PRNG (mulberry32) so `--random --seed N` picks and injects the same way again. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
