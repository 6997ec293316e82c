/**
 * The schema of platform.yaml. Every object is strict (unknown keys are errors with a list of the
 * known ones) so a typo never silently does nothing.
 */
import { z } from 'zod';
import { durationSchema } from '../duration-schema.ts';
import { strict } from './strict.ts';

const NAME = /^[a-z][a-z0-9-]{0,39}$/;
const nameSchema = z.string().refine((s) => NAME.test(s), {
  error: 'must be lowercase letters, digits and dashes, starting with a letter (max 40)',
  params: { fix: 'rename it, e.g. "content-api"' },
});

import { CLOUDS, PROVIDERS } from './constants.ts';

export { CLOUDS, type Cloud, PROVIDERS, type ProviderName } from './constants.ts';

/**
 * Each backend left out follows the environment's provider: a local environment runs SQLite, the
 * embedded bus and files; a Kubernetes one the managed PostgreSQL, broker and object storage
 * Terraform creates (the embedded ones need a host directory shared by processes, which pods with
 * a read-only root file system on several nodes do not have). Writing `embedded` on a Kubernetes
 * environment is the explicit opt-in `gitops render` honours.
 */
const backendsSchema = strict({
  database: z.enum(['sqlite', 'postgres']).optional(),
  bus: z.enum(['embedded', 'rabbitmq']).optional(),
  blobs: z.enum(['file', 's3']).optional(),
});

/** The backends of an environment with every left-out one filled in for its provider. */
export function resolveBackends(
  provider: (typeof PROVIDERS)[number],
  given: z.output<typeof backendsSchema> = {},
): { database: 'sqlite' | 'postgres'; bus: 'embedded' | 'rabbitmq'; blobs: 'file' | 's3' } {
  const managed = provider === 'kubernetes';
  return {
    database: given.database ?? (managed ? 'postgres' : 'sqlite'),
    bus: given.bus ?? (managed ? 'rabbitmq' : 'embedded'),
    blobs: given.blobs ?? (managed ? 's3' : 'file'),
  };
}

const environmentSchema = strict({
  /** Where this environment's infrastructure lives. */
  cloud: z.enum(CLOUDS),
  /** Primary region. */
  region: z.string().min(1),
  /** More regions of the same cloud (prod runs in several). */
  extraRegions: z.array(z.string().min(1)).default([]),
  /** A second cloud linked by site-to-site VPN. */
  secondary: strict({ cloud: z.enum(CLOUDS), region: z.string().min(1) }).optional(),
  /** Which provider runs the services: supervised local processes or a Kubernetes cluster. */
  provider: z.enum(PROVIDERS),
  /** Protected environments refuse mutating commands without --allow-prod. */
  protected: z.boolean().default(false),
  kubeContext: z.string().optional(),
  namespace: z.string().optional(),
  /** Kubernetes: how canary traffic is split (Gateway API HTTPRoute weights, or an Istio VirtualService). */
  mesh: z.enum(['gateway-api', 'istio']).optional(),
  /** Kubernetes: the registry images come from; a release runs `<registry>/<service>:<version>`. */
  registry: z.string().min(1).optional(),
  /** Kubernetes: Prometheus base URL the provider's `metrics()` queries (PromQL). */
  prometheus: z.url({ error: 'must be an http(s) URL' }).optional(),
  backends: backendsSchema.optional(),
}).transform((env) => ({ ...env, backends: resolveBackends(env.provider, env.backends) }));
export type EnvironmentSpec = z.output<typeof environmentSchema>;

const conditionList = z.array(z.string().min(1));

const analysisSchema = strict({
  /** How often metrics are sampled during an analysis step. */
  interval: durationSchema.default(2000),
  /** Number of measurements per analysis step. */
  count: z.number().int().min(1).default(3),
  /** Failed measurements tolerated before rolling back. */
  failureLimit: z.number().int().min(0).default(0),
  /** Fewer canary requests than this in an interval makes it inconclusive, never a pass. */
  minSampleSize: z.number().int().min(1).default(20),
  /** Conditions such as `error_rate < 1%`, `p99 < 300ms`, `canary.p99 < 1.2 * stable.p99`. */
  conditions: conditionList.default(['error_rate < 1%', 'canary.p99 < 1.5 * stable.p99 + 50ms']),
  /** Inconclusive measurements tolerated; past them the analysis is out of time (see onDeadline). */
  inconclusiveLimit: z.number().int().min(0).default(3),
  /** Longest one analysis may run without a verdict (like Argo Rollouts' progressDeadlineSeconds). */
  progressDeadline: durationSchema.default(600_000),
  /** Past inconclusiveLimit or progressDeadline: roll back (default), or hold the traffic for a human. */
  onDeadline: z.enum(['abort', 'pause']).default('abort'),
});
export type AnalysisSpec = z.output<typeof analysisSchema>;

/**
 * The analysis keys without defaults, for overrides (a step's `analysis`, a service's `delivery`):
 * zod's `.partial()` keeps inner defaults, which would silently reset every key an override omits.
 */
const analysisOverrideSchema = strict({
  interval: durationSchema.optional(),
  count: z.number().int().min(1).optional(),
  failureLimit: z.number().int().min(0).optional(),
  minSampleSize: z.number().int().min(1).optional(),
  conditions: conditionList.optional(),
  inconclusiveLimit: z.number().int().min(0).optional(),
  progressDeadline: durationSchema.optional(),
  onDeadline: z.enum(['abort', 'pause']).optional(),
});

const stepSchema = z.union([
  strict({ setWeight: z.number().int().min(0).max(100) }),
  strict({ pause: z.union([durationSchema, strict({ untilPromoted: z.literal(true) })]) }),
  strict({ analysis: analysisOverrideSchema.default({}) }),
]);
export type StepSpec = z.output<typeof stepSchema>;

const deliverySchema = strict({
  strategy: z.enum(['canary', 'bluegreen', 'rolling']).default('canary'),
  steps: z
    .array(stepSchema)
    .default(() => [
      { setWeight: 10 },
      { analysis: {} },
      { setWeight: 50 },
      { analysis: {} },
      { setWeight: 100 },
    ]),
  analysis: analysisSchema.default(analysisSchema.parse({})),
  /** After 100%, keep analysing for this long (old version kept for rollback); 0 = no bake. */
  bake: durationSchema.default(0),
  blueGreen: strict({
    autoPromote: z.boolean().default(true),
    /** How long the old version keeps running after the switch, for an instant rollback. */
    scaleDownDelay: durationSchema.default(30_000),
  }).default({ autoPromote: true, scaleDownDelay: 30_000 }),
});
export type DeliverySpec = z.output<typeof deliverySchema>;

/** `services.<name>.delivery`: only the keys given override the platform's `delivery`. */
const deliveryOverrideSchema = strict({
  strategy: z.enum(['canary', 'bluegreen', 'rolling']).optional(),
  steps: z.array(stepSchema).optional(),
  analysis: analysisOverrideSchema.optional(),
  bake: durationSchema.optional(),
  blueGreen: strict({
    autoPromote: z.boolean().optional(),
    scaleDownDelay: durationSchema.optional(),
  }).optional(),
});

const serviceSchema = strict({
  /** Source directory, relative to platform.yaml. */
  path: z.string().min(1),
  /** The port the first instance listens on locally; more replicas take the next free ports. */
  port: z.number().int().min(1).max(65535),
  kind: z.enum(['gateway', 'service', 'worker']).default('service'),
  /** Path prefixes the gateway routes to this service. */
  routes: z.array(z.string().startsWith('/', { error: 'a route must start with "/"' })).default([]),
  dependsOn: z.array(nameSchema).default([]),
  health: strict({
    liveness: z.string().startsWith('/').default('/healthz'),
    readiness: z.string().startsWith('/').default('/readyz'),
  }).default({ liveness: '/healthz', readiness: '/readyz' }),
  replicas: z.number().int().min(1).max(32).default(1),
  env: z.record(z.string(), z.string()).default({}),
  owner: z.string().optional(),
  slo: strict({
    /** Availability objective in percent over 30 days. */
    availability: z.number().gt(0).lt(100).default(99.9),
    latencyP99Ms: z.number().positive().default(500),
  }).default({ availability: 99.9, latencyP99Ms: 500 }),
  /** Per-service delivery settings; merged over the platform's `delivery` defaults. */
  delivery: deliveryOverrideSchema.optional(),
});
export type ServiceSpec = z.output<typeof serviceSchema>;

const webhookSchema = strict({
  name: nameSchema,
  url: z.url({ error: 'must be an http(s) URL' }),
  format: z.enum(['slack', 'teams', 'generic']).default('generic'),
  /** Which events go to this hook; all when omitted. */
  events: z
    .array(
      z.enum(['rollout.started', 'rollout.gate', 'rollout.promoted', 'rollout.rolledBack', 'drill.page']),
    )
    .optional(),
});
export type WebhookSpec = z.output<typeof webhookSchema>;

const secretsSchema = strict({
  /** Where `platformctl secrets` keeps values: the encrypted local store or HashiCorp Vault KV v2. */
  backend: z.enum(['local', 'vault']).default('local'),
  vault: strict({
    /** Overridden by VAULT_ADDR. */
    address: z.url({ error: 'must be an http(s) URL' }).optional(),
    mount: z.string().min(1).default('secret'),
    prefix: z.string().min(1).default('platformctl'),
    approleMount: z.string().min(1).default('approle'),
  }).optional(),
});
export type SecretsSpec = z.output<typeof secretsSchema>;

/** Where `incident file-actions` files a postmortem's action items. Credentials come from the environment. */
const incidentsSchema = strict({
  tracker: z.enum(['github', 'jira']).optional(),
  github: strict({
    /** `owner/name`; else GITHUB_REPOSITORY or the origin remote. */
    repo: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/, { error: 'must be owner/name' })
      .optional(),
    /** Labels added besides `incident-follow-up`. */
    labels: z.array(z.string().min(1)).default([]),
  }).optional(),
  jira: strict({
    /** The Jira Cloud site, e.g. https://acme.atlassian.net; JIRA_SITE overrides it. */
    site: z.url({ error: 'must be an https URL' }).optional(),
    project: z.string().regex(/^[A-Z][A-Z0-9_]+$/, { error: 'must be a Jira project key like OPS' }),
    issueType: z.string().min(1).default('Task'),
    /** Service owner (as written in platform.yaml) -> Atlassian account id, for assignees. */
    accounts: z.record(z.string(), z.string()).default({}),
  }).optional(),
});
export type IncidentsSpec = z.output<typeof incidentsSchema>;

export const platformSchema = strict({
  apiVersion: z.literal('platformctl/v1', { error: 'must be "platformctl/v1"' }).default('platformctl/v1'),
  name: nameSchema,
  owner: z.string().optional(),
  environments: z
    .record(nameSchema, environmentSchema)
    .refine((envs) => Object.keys(envs).length > 0, { error: 'at least one environment is required' }),
  services: z.record(nameSchema, serviceSchema),
  delivery: deliverySchema.default(deliverySchema.parse({})),
  notifications: strict({ webhooks: z.array(webhookSchema).default([]) }).default({ webhooks: [] }),
  secrets: secretsSchema.optional(),
  incidents: incidentsSchema.optional(),
}).superRefine((cfg, ctx) => {
  const byPort = new Map<number, string>();
  for (const [name, svc] of Object.entries(cfg.services)) {
    const other = byPort.get(svc.port);
    if (other) {
      ctx.addIssue({
        code: 'custom',
        path: ['services', name, 'port'],
        message: `port ${svc.port} is already used by service "${other}"`,
        params: { fix: `give "${name}" a free port, e.g. ${svc.port + 10}` },
      });
    } else byPort.set(svc.port, name);
    for (const dep of svc.dependsOn) {
      if (!(dep in cfg.services)) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'dependsOn'],
          message: `depends on unknown service "${dep}"`,
          params: { fix: `declare "${dep}" under services, or remove it from dependsOn` },
        });
      }
    }
  }
  const byRoute = new Map<string, string>();
  for (const [name, svc] of Object.entries(cfg.services)) {
    for (const route of svc.routes) {
      const other = byRoute.get(route);
      if (other) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'routes'],
          message: `route "${route}" is already served by "${other}"`,
          params: { fix: 'each path prefix may belong to one service only' },
        });
      } else byRoute.set(route, name);
    }
  }
});

/** A validated platform.yaml. */
export type PlatformConfig = z.output<typeof platformSchema>;
