/**
 * The runtime's environment contract: the variables every service reads (runtime/lib/config.ts
 * parses them) and the ones the platform sets (the local supervisor, the Kubernetes manifests).
 * Both sides import the names from here, so renaming a variable on one side only fails the type
 * check instead of a deployment.
 */
import { z } from 'zod';
import { LOG_LEVELS } from './log-line.ts';

/** `LOG_LEVEL` values: the log-line levels plus `silent`. */
export const LOG_LEVEL_SETTINGS = [...LOG_LEVELS, 'silent'] as const;

/** The keys every service understands. Empty values never reach a schema (see `withoutEmpty`). */
export const runtimeEnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535),
  HOST: z.string().default('127.0.0.1'),
  SERVICE_NAME: z.string().optional(),
  SERVICE_VERSION: z.string().default('dev'),
  INSTANCE_ID: z.string().optional(),
  LOG_LEVEL: z.enum(LOG_LEVEL_SETTINGS).default('info'),
  DATA_DIR: z.string().optional(),
  DATABASE_URL: z.string().optional(),
  BUS_URL: z.string().optional(),
  BLOBS_URL: z.string().optional(),
  /** The password for BUS_URL's user when the URL has none (kept in a Secret, the URL in a ConfigMap). */
  BUS_PASSWORD: z.string().optional(),
  /**
   * Backends (`database,bus,blobs`) this service may run embedded (SQLite, the embedded bus, files)
   * inside a Kubernetes pod; set by `gitops render` only when platform.yaml asks for them there.
   */
  EMBEDDED_BACKENDS: z.string().optional(),
  ADMIN_TOKEN: z.string().optional(),
  AUTH_URL: z.url().optional(),
  CONTENT_URL: z.url().optional(),
  ANALYTICS_URL: z.url().optional(),
  AUTH_JWKS_URL: z.url().optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  TRACES_DIR: z.string().optional(),
  /** `true` also traces /healthz, /readyz, /health/dependencies and /metrics (off: scrapes flooded `traces`). */
  TRACE_PROBES: z.enum(['true', 'false']).default('false'),
  /** `production` turns gRPC server reflection off unless GRPC_REFLECTION says otherwise. */
  NODE_ENV: z.string().optional(),
  /** Serve gRPC server reflection: default on, off when NODE_ENV=production. */
  GRPC_REFLECTION: z.enum(['true', 'false']).optional(),
  /**
   * An inherited pipe's descriptor on which the service says `STATUS=starting` and then `READY=1`
   * (runtime/lib/ready-notify.ts), so whoever started it need not poll `/readyz` meanwhile.
   */
  NOTIFY_FD: z.string().optional(),
  /**
   * `1`: start as a standby — load the code, say `STATUS=standby` on NOTIFY_FD, and start only when
   * `START` is read there (exit when the pipe closes first). The local supervisor keeps one per
   * instance to take over when the instance's process dies.
   */
  NOTIFY_STANDBY: z.enum(['1']).optional(),
});

/** The gateway's routing file (see gateway-config.ts), set by whoever starts a gateway. */
export const gatewayFileEnvSchema = z.object({ GATEWAY_CONFIG: z.string().optional() });

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
