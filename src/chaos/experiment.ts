/**
 * The chaos experiment file (YAML), in the spirit of Chaos Toolkit: a steady-state hypothesis
 * (probes with tolerances), background workload whose acknowledged writes are verified afterwards,
 * a method of declarative fault actions and pauses, and limits that abort the run. Faults are data,
 * not code, so the same file runs on the local provider and renders to Chaos Mesh for Kubernetes.
 */
import { z } from 'zod';
import { readYamlFile, validateWith } from '../core/config/yaml-source.ts';
import { durationSchema } from '../core/duration-schema.ts';

const strict = z.strictObject;
const service = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, { error: 'must be a service name from platform.yaml' });

const httpProbe = strict({
  name: z.string(),
  http: strict({
    method: z.enum(['GET', 'HEAD']).default('GET'),
    /** Path through the gateway. */
    path: z.string().startsWith('/'),
    status: z.array(z.number().int()).default([200]),
    /** The request must answer within this time. */
    maxLatency: durationSchema.default(2000),
    /** Send this many requests one after another; every one must pass (catches partial failures). */
    repeat: z.number().int().min(1).max(200).default(1),
    /**
     * Send a real user's token (a throw-away user signed up for the run): the probe then goes
     * past the gateway's JWT check to the service, instead of being answered 401 before any fault.
     */
    auth: z.boolean().default(false),
  }),
});
const metricProbe = strict({
  name: z.string(),
  metric: strict({
    service,
    /** A condition in the canary analysis language, over the service's gateway metrics. */
    condition: z.string().min(1),
    window: durationSchema.default(10_000),
    /** Fewer requests than this in the window and the probe passes vacuously (nothing to judge). */
    minRequests: z.number().int().min(0).default(10),
  }),
});
const healthProbe = strict({
  name: z.string(),
  /** Every instance of these services (all when omitted) is ready. */
  healthy: strict({ services: z.array(service).optional() }),
});
export const probeSchema = z.union([httpProbe, metricProbe, healthProbe]);
export type Probe = z.output<typeof probeSchema>;

const target = strict({
  service,
  version: z.string().optional(),
  /** Which instance: the first, a random one, or all (for kill/stop). */
  instance: z.enum(['first', 'random', 'all']).default('random'),
});

const actionBase = { duration: durationSchema.optional() };
export const actionSchema = z.discriminatedUnion('action', [
  strict({ action: z.literal('kill-instance'), target, every: durationSchema.optional(), ...actionBase }),
  strict({ action: z.literal('stop-service'), target, ...actionBase }),
  strict({
    action: z.literal('inject-latency'),
    target,
    delay: durationSchema,
    route: z.string().optional(),
    ...actionBase,
  }),
  strict({
    action: z.literal('inject-errors'),
    target,
    percent: z.number().gt(0).max(100),
    status: z.number().int().min(400).max(599).default(503),
    route: z.string().optional(),
    ...actionBase,
  }),
  strict({
    action: z.literal('partition'),
    dependency: z.string().min(1),
    target: target.optional(),
    ...actionBase,
  }),
  strict({
    action: z.literal('cpu-stress'),
    target,
    workers: z.number().int().min(1).max(16).default(1),
    ...actionBase,
  }),
  strict({
    action: z.literal('fill-disk'),
    target,
    size: z.string().regex(/^\d+(KB|MB|GB)$/, { error: 'a size like 200MB' }),
    ...actionBase,
  }),
  strict({ action: z.literal('clock-skew'), target, offset: durationSchema, ...actionBase }),
  strict({ action: z.literal('pause'), duration: durationSchema }),
]);
/** A method step: a fault action, or the shorthand `pause: 5s`. */
export const stepSchema = z.preprocess(
  (v) =>
    typeof v === 'object' && v !== null && 'pause' in v && !('action' in v)
      ? { action: 'pause', duration: (v as { pause: unknown }).pause }
      : v,
  actionSchema,
);
export type Action = z.output<typeof actionSchema>;

const workloadSchema = strict({
  /** `events`: analytics events; `uploads`: small images to content. Both are counted and verified. */
  kind: z.enum(['events', 'uploads']),
  /** Operations per second. */
  rate: z.number().positive().max(2000),
  /** Analytics events per request (batch). */
  batch: z.number().int().min(1).max(1000).default(10),
});

export const experimentSchema = strict({
  title: z.string().min(1),
  description: z.string().optional(),
  steadyState: strict({ probes: z.array(probeSchema).min(1) }),
  workload: z.array(workloadSchema).default([]),
  method: z.array(stepSchema).min(1),
  /** Probes checked every few seconds while faults are active ("verify during"). */
  during: strict({
    probes: z.array(probeSchema).default([]),
    interval: durationSchema.default(2000),
  }).default({
    probes: [],
    interval: 2000,
  }),
  limits: strict({
    /** Abort (roll back at once) when this condition holds on the gateway's all-service metrics. */
    abortWhen: z.string().optional(),
    maxDuration: durationSchema.default(300_000),
    /** At most this share of a service's instances may be hit by one action. */
    maxInstancesPct: z.number().gt(0).max(100).default(100),
    /**
     * Lease of traffic faults: renewed while the run lives, lapsing this long after it dies
     * (kill -9), so no fault outlives its experiment by more.
     */
    faultLease: durationSchema.pipe(z.number().min(1000)).default(10_000),
  }).default({ maxDuration: 300_000, maxInstancesPct: 100, faultLease: 10_000 }),
  /** How long to wait after rollback for the system to converge before the final checks. */
  recovery: durationSchema.default(5000),
  /** Verify every acknowledged write of the workload afterwards. */
  verifyData: z.boolean().default(true),
});
export type Experiment = z.output<typeof experimentSchema>;

/** Reads and validates an experiment file; every problem is reported as file:line:column. */
export function loadExperiment(file: string, display = file): Experiment {
  return validateWith(experimentSchema, readYamlFile(file, display));
}
