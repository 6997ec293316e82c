/**
 * The runtime's environment contract: the variables every service reads (runtime/lib/config.ts
 * parses them) and the ones the platform sets (the local supervisor, the Kubernetes manifests).
 * Both sides import the names from here, so renaming a variable on one side only fails the type
 * check instead of a deployment.
 */
// zod/mini, not zod: every service parses this at start, and zod's chained API costs ~10 ms of
// module evaluation and schema building per start that the tree-shaken functions do not (issue 21).
import * as z from 'zod/mini';
import { LOG_LEVELS } from './log-line.ts';

/** `LOG_LEVEL` values: the log-line levels plus `silent`. */
export const LOG_LEVEL_SETTINGS = [...LOG_LEVELS, 'silent'] as const;

/** The keys every service understands. Empty values never reach a schema (see `withoutEmpty`). */
export const runtimeEnvSchema = z.object({
  PORT: z.coerce.number().check(z.int(), z.minimum(0), z.maximum(65_535)),
  HOST: z._default(z.string(), '127.0.0.1'),
  SERVICE_NAME: z.optional(z.string()),
  SERVICE_VERSION: z._default(z.string(), 'dev'),
  INSTANCE_ID: z.optional(z.string()),
  LOG_LEVEL: z._default(z.enum(LOG_LEVEL_SETTINGS), 'info'),
  DATA_DIR: z.optional(z.string()),
  DATABASE_URL: z.optional(z.string()),
  BUS_URL: z.optional(z.string()),
  BLOBS_URL: z.optional(z.string()),
  /** The password for BUS_URL's user when the URL has none (kept in a Secret, the URL in a ConfigMap). */
  BUS_PASSWORD: z.optional(z.string()),
  /**
   * Backends (`database,bus,blobs`) this service may run embedded (SQLite, the embedded bus, files)
   * inside a Kubernetes pod; set by `gitops render` only when platform.yaml asks for them there.
   */
  EMBEDDED_BACKENDS: z.optional(z.string()),
  ADMIN_TOKEN: z.optional(z.string()),
  AUTH_URL: z.optional(z.url()),
  CONTENT_URL: z.optional(z.url()),
  ANALYTICS_URL: z.optional(z.url()),
  AUTH_JWKS_URL: z.optional(z.url()),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.optional(z.url()),
  TRACES_DIR: z.optional(z.string()),
  /** `true` also traces /healthz, /readyz, /health/dependencies and /metrics (off: scrapes flooded `traces`). */
  TRACE_PROBES: z._default(z.enum(['true', 'false']), 'false'),
  /** `production` turns gRPC server reflection off unless GRPC_REFLECTION says otherwise. */
  NODE_ENV: z.optional(z.string()),
  /** Serve gRPC server reflection: default on, off when NODE_ENV=production. */
  GRPC_REFLECTION: z.optional(z.enum(['true', 'false'])),
  /**
   * An inherited pipe's descriptor on which the service says `STATUS=starting` and then `READY=1`
   * (runtime/lib/ready-notify.ts), so whoever started it need not poll `/readyz` meanwhile.
   */
  NOTIFY_FD: z.optional(z.string()),
  /**
   * `1`: start as a standby — load the code, say `STATUS=standby` on NOTIFY_FD, and start only when
   * `START` is read there (exit when the pipe closes first). The local supervisor keeps one per
   * instance to take over when the instance's process dies.
   */
  NOTIFY_STANDBY: z.optional(z.enum(['1'])),
});

/** The gateway's routing file (see gateway-config.ts), set by whoever starts a gateway. */
export const gatewayFileEnvSchema = z.object({ GATEWAY_CONFIG: z.optional(z.string()) });

/** Names of the variables a platform may set for a runtime service. */
export type RuntimeEnvName = keyof typeof runtimeEnvSchema.shape | keyof typeof gatewayFileEnvSchema.shape;

/** Environment a provider hands a runtime service: only contract names, string values. */
export type RuntimeEnv = Partial<Record<RuntimeEnvName, string>>;

/**
 * The variable a service reads to find another service, e.g. `CONTENT_URL` for `content`
 * (`my-api` → `MY_API_URL`).
 */
export function serviceUrlVariable(service: string): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_URL`;
}

/**
 * The environment without empty values: `FOO= node main.ts` is a common way of clearing a value,
 * so an empty variable counts as unset for every key of every service (defaults apply).
 */
export function withoutEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  return out;
}
