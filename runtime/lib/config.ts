/**
 * 12-factor configuration: every runtime service reads its settings from the environment only,
 * validates them with zod at start and exits 1 with a readable list of problems when they are
 * wrong (a supervisor then shows that line instead of a stack trace from deep inside the service).
 */
import { resolve } from 'node:path';
import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { type LOG_LEVEL_SETTINGS, runtimeEnvSchema, withoutEmpty } from '../contract/runtime-env.ts';

/** Resolved configuration shared by every service, plus the service's own keys in `extra`. */
export interface ServiceConfig<Extra = Record<string, never>> {
  port: number;
  host: string;
  service: string;
  version: string;
  instance: string;
  logLevel: (typeof LOG_LEVEL_SETTINGS)[number];
  /** Absolute path of the service-private data directory. */
  dataDir: string;
  databaseUrl: string;
  busUrl: string;
  blobsUrl: string;
  adminToken: string | undefined;
  authUrl: string | undefined;
  contentUrl: string | undefined;
  analyticsUrl: string | undefined;
  authJwksUrl: string | undefined;
  otlpEndpoint: string | undefined;
  tracesDir: string | undefined;
  /** Trace probe and scrape requests too (off by default). */
  traceProbes: boolean;
  /** Serve gRPC server reflection (GRPC_REFLECTION, else on unless NODE_ENV=production). */
  grpcReflection: boolean;
  extra: Extra;
}

/** Thrown by `parseConfig`: one line per invalid variable. */
export class EnvConfigError extends Error {
  readonly problems: string[];
  constructor(service: string, problems: string[]) {
    super(`${service}: invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvConfigError';
    this.problems = problems;
  }
}

/** A service's own env schema: a zod object, from `zod` or `zod/mini` alike. */
export type EnvSchema = z.core.$ZodObject;

function problemsOf(error: z.core.$ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
}

/**
 * Validates `env` against the common keys and the optional per-service `extra` schema (an object
 * schema of env keys) and fills the documented defaults; an empty variable is an unset one.
 * Throws `EnvConfigError`.
 */
export function parseConfig<S extends EnvSchema = z.ZodMiniObject<Record<string, never>>>(
  defaultName: string,
  env: NodeJS.ProcessEnv = process.env,
  extra?: S,
): ServiceConfig<z.output<S>> {
  // zod/mini has no messages of its own; full zod sets the same English ones when first used.
  if (!z.config().localeError) z.config(en());
  // Empty variables count as unset for the common keys and the service's own alike.
  const set = withoutEmpty(env);
  const common = z.safeParse(runtimeEnvSchema, set);
  const own = extra ? z.safeParse(extra, set) : undefined;
  const problems = [...(common.success ? [] : problemsOf(common.error))];
  if (own && !own.success) problems.push(...problemsOf(own.error));
  if (!common.success || (own && !own.success)) throw new EnvConfigError(defaultName, problems);
  const c = common.data;
  const service = c.SERVICE_NAME ?? defaultName;
  const dataDir = resolve(c.DATA_DIR ?? `.data/${service}`);
  return {
    port: c.PORT,
    host: c.HOST,
    service,
    version: c.SERVICE_VERSION,
    instance: c.INSTANCE_ID ?? `${service}-${process.pid}`,
    logLevel: c.LOG_LEVEL,
    dataDir,
    databaseUrl: c.DATABASE_URL ?? `sqlite://${resolve(dataDir, `${service}.db`)}`,
    busUrl: c.BUS_URL ?? `embedded://${resolve(dataDir, '..', 'bus')}`,
    blobsUrl: c.BLOBS_URL ?? `file://${resolve(dataDir, 'blobs')}`,
    adminToken: c.ADMIN_TOKEN,
    authUrl: c.AUTH_URL,
    contentUrl: c.CONTENT_URL,
    analyticsUrl: c.ANALYTICS_URL,
    authJwksUrl: c.AUTH_JWKS_URL,
    otlpEndpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT,
    tracesDir: c.TRACES_DIR === undefined ? undefined : resolve(c.TRACES_DIR),
    traceProbes: c.TRACE_PROBES === 'true',
    grpcReflection: c.GRPC_REFLECTION ? c.GRPC_REFLECTION === 'true' : c.NODE_ENV !== 'production',
    extra: (own?.data ?? {}) as z.output<S>,
  };
}

/** The backends a service can open, and the variable naming each. */
export const BACKEND_URL_VARIABLES = {
  database: 'DATABASE_URL',
  bus: 'BUS_URL',
  blobs: 'BLOBS_URL',
} as const;
export type BackendKind = keyof typeof BACKEND_URL_VARIABLES;

/**
 * Fails closed where the embedded fallbacks cannot work: in a Kubernetes pod (the kubelet sets
 * `KUBERNETES_SERVICE_HOST` in every one) the defaults are a SQLite file, a bus directory
 * `<DATA_DIR>/../bus` on a read-only root file system and blobs on a pod-local volume, none shared
 * between replicas. A backend the service opens without its URL there is a configuration error,
 * unless `EMBEDDED_BACKENDS` lists it (platform.yaml asked for it explicitly). Throws
 * `EnvConfigError`.
 */
export function assertBackendsConfigured(
  service: string,
  env: NodeJS.ProcessEnv,
  used: readonly BackendKind[],
): void {
  const set = withoutEmpty(env);
  if (set.KUBERNETES_SERVICE_HOST === undefined) return;
  const allowed = new Set((set.EMBEDDED_BACKENDS ?? '').split(',').map((s) => s.trim()));
  const problems = used
    .filter((kind) => set[BACKEND_URL_VARIABLES[kind]] === undefined && !allowed.has(kind))
    .map(
      (kind) =>
        `${BACKEND_URL_VARIABLES[kind]}: not set, and this pod runs on Kubernetes, where the embedded ${kind} cannot work; render the manifests with the managed backends (platform.yaml environments.<env>.backends, gitops render --terraform-outputs) or allow it with EMBEDDED_BACKENDS=${kind}`,
    );
  if (problems.length) throw new EnvConfigError(service, problems);
}

/** `parseConfig`, but on invalid env prints the problems to stderr and exits 1 (service entry points). */
export function loadConfig<S extends EnvSchema = z.ZodMiniObject<Record<string, never>>>(
  defaultName: string,
  extra?: S,
  env: NodeJS.ProcessEnv = process.env,
): ServiceConfig<z.output<S>> {
  try {
    return parseConfig(defaultName, env, extra);
  } catch (err) {
    if (err instanceof EnvConfigError) {
      process.stderr.write(`${err.message}\nFix the variables above and start the service again.\n`);
      process.exit(1);
    }
    throw err;
  }
}
