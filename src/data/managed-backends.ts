/**
 * How a Kubernetes environment's services reach the managed backends Terraform creates: which of
 * them the runtime can use on each cloud, the secrets that carry their credentials (declared by
 * Terraform, read by the ExternalSecrets, under one name: secrets/store-names.ts), and the
 * `DATABASE_URL` / `BUS_URL` / `BLOBS_URL` each service gets from the stacks' outputs (the same
 * backends switch the local provider sets, runtime/lib/storage).
 */
import type { Cloud, PlatformConfig } from '../core/config/schema.ts';
import { STACK_OUTPUTS, type StackOutputs } from '../stacks/outputs.ts';
import { backendsUsed } from './service-data.ts';
import { withDatabase } from './service-databases.ts';

export const BACKEND_KINDS = ['database', 'bus', 'blobs'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** The variable each backend's URL is in (runtime/contract/runtime-env.ts). */
export const URL_VARIABLE: Record<BackendKind, 'DATABASE_URL' | 'BUS_URL' | 'BLOBS_URL'> = {
  database: 'DATABASE_URL',
  bus: 'BUS_URL',
  blobs: 'BLOBS_URL',
};

/**
 * `terraform`: the URL is built from the stacks' outputs and its credential is a secret Terraform
 * writes (or declares); `secret`: the cloud's service is one the runtime cannot use, so the whole
 * URL is a secret you set (e.g. a RabbitMQ or PostgreSQL you run); `embedded`: platform.yaml asked
 * for SQLite / the embedded bus / files on Kubernetes explicitly.
 */
export type Wiring = 'terraform' | 'secret' | 'embedded';

/** What the runtime can use of what the stacks create, per cloud. */
export const MANAGED_WIRING: Record<Cloud, Record<BackendKind, 'terraform' | 'secret'>> = {
  // RDS PostgreSQL, Amazon MQ for RabbitMQ (AMQP 0-9-1 over TLS), S3 through IRSA.
  aws: { database: 'terraform', bus: 'terraform', blobs: 'terraform' },
  // Cloud SQL PostgreSQL; Cloud Storage through its S3-compatible XML API (HMAC key); Pub/Sub
  // speaks neither AMQP 0-9-1 nor Kafka.
  gcp: { database: 'terraform', bus: 'secret', blobs: 'terraform' },
  // Flexible Server signs in with Entra ID only (no password), Service Bus speaks AMQP 1.0 and
  // Blob Storage has no S3 API: none of them is a backend the runtime has an adapter for.
  azure: { database: 'secret', bus: 'secret', blobs: 'secret' },
};

/** Credentials a `terraform`-wired backend needs, as platformctl secret names. */
const CREDENTIALS: Record<Cloud, Record<BackendKind, string[]>> = {
  aws: { database: ['*.PGPASSWORD'], bus: ['*.BUS_PASSWORD'], blobs: [] },
  gcp: { database: ['*.PGPASSWORD'], bus: [], blobs: ['*.AWS_ACCESS_KEY_ID', '*.AWS_SECRET_ACCESS_KEY'] },
  azure: { database: [], bus: [], blobs: [] },
};

/** The PostgreSQL role the stacks create and the services sign in as. */
export const DATABASE_USER = 'platform_admin';
/** The Amazon MQ user the stacks create. */
export const BROKER_USER = 'platform';
/** Cloud Storage's S3-compatible endpoint. */
export const GCS_S3_ENDPOINT = 'https://storage.googleapis.com';

/** How each backend reaches an environment's services (undefined for a local environment). */
export function backendWiring(config: PlatformConfig, env: string): Record<BackendKind, Wiring> | undefined {
  const spec = config.environments[env];
  if (spec?.provider !== 'kubernetes') return undefined;
  const managed = MANAGED_WIRING[spec.cloud];
  const { database, bus, blobs } = spec.backends;
  return {
    database: database === 'sqlite' ? 'embedded' : managed.database,
    bus: bus === 'embedded' ? 'embedded' : managed.bus,
    blobs: blobs === 'file' ? 'embedded' : managed.blobs,
  };
}

/**
 * The secrets the data stack writes whatever the environment runs on, since it creates their
 * backends for every environment: the database password (AWS, GCP) and the broker's (AWS).
 */
export function generatedSecretNames(cloud: Cloud, brokerCreated: boolean): string[] {
  if (cloud === 'azure') return [];
  return ['*.PGPASSWORD', ...(cloud === 'aws' && brokerCreated ? ['*.BUS_PASSWORD'] : [])];
}

/** The backends some service of the platform opens. */
function kindsInUse(config: PlatformConfig): Set<BackendKind> {
  return new Set(Object.values(config.services).flatMap((s) => backendsUsed(s.path)));
}

/**
 * The secrets an environment's managed backends need, as platformctl names (`*.PGPASSWORD`, …):
 * Terraform declares them (and writes the ones it generates), the ExternalSecrets read them. With
 * `service`, only those of the backends that service opens (the gateway gets no database password).
 */
export function managedSecretNames(config: PlatformConfig, env: string, service?: string): string[] {
  const wiring = backendWiring(config, env);
  const cloud = config.environments[env]?.cloud;
  if (!wiring || !cloud) return [];
  const path = service === undefined ? undefined : config.services[service]?.path;
  const used = path === undefined ? kindsInUse(config) : new Set(backendsUsed(path));
  const names = BACKEND_KINDS.filter((k) => used.has(k)).flatMap((k) =>
    wiring[k] === 'terraform'
      ? CREDENTIALS[cloud][k]
      : wiring[k] === 'secret'
        ? [`*.${URL_VARIABLE[k]}`]
        : [],
  );
  return [...new Set(names)].sort();
}

/** What `gitops render` gives one service: ConfigMap entries, and what it still lacks. */
export interface ServiceBackendConfig {
  /** Non-secret settings (URLs without passwords, region, endpoint). */
  data: Record<string, string>;
  /** Stack outputs this service needs that were not given (render warns; the pod fails closed). */
  missing: string[];
  /** Whether the service reads secrets from `<service>-secrets` (its ExternalSecret). */
  needsSecrets: boolean;
}

/**
 * The backend settings of one service of a Kubernetes environment, from the outputs of the
 * environment's primary-region stacks (`terraform output -json`). Passwords are never here: they
 * come from the `<service>-secrets` Secret (PGPASSWORD, BUS_PASSWORD, …).
 */
export function serviceBackendConfig(
  config: PlatformConfig,
  env: string,
  service: string,
  outputs: StackOutputs,
): ServiceBackendConfig {
  const wiring = backendWiring(config, env);
  const spec = config.environments[env];
  const svc = config.services[service];
  const data: Record<string, string> = {};
  const missing: string[] = [];
  if (!wiring || !spec || !svc) return { data, missing, needsSecrets: false };
  const used = backendsUsed(svc.path);
  const output = (name: string): string | undefined => {
    const value = outputs[name];
    if (value === undefined && !missing.includes(name)) missing.push(name);
    return value;
  };
  const embedded = used.filter((k) => wiring[k] === 'embedded');
  for (const kind of used) {
    if (wiring[kind] !== 'terraform') continue;
    if (kind === 'database') {
      const host = output(STACK_OUTPUTS.databaseHost);
      // libpq semantics: TLS required (both clouds refuse plaintext), certificates not pinned here.
      if (host)
        data.DATABASE_URL = `${withDatabase(`postgres://${DATABASE_USER}@${host}:5432/`, service)}?uselibpqcompat=true&sslmode=require`;
    } else if (kind === 'bus') {
      const endpoint = output(STACK_OUTPUTS.brokerEndpoint);
      if (endpoint) {
        const u = new URL(endpoint);
        u.username = BROKER_USER;
        data.BUS_URL = u.toString().replace(/\/$/, '');
      }
    } else {
      const bucket = output(STACK_OUTPUTS.contentBucket);
      if (bucket)
        data.BLOBS_URL =
          spec.cloud === 'gcp'
            ? `s3://${bucket}/${service}?endpoint=${GCS_S3_ENDPOINT}&region=auto&forcePathStyle=false`
            : `s3://${bucket}/${service}?region=${spec.region}`;
    }
  }
  if (embedded.length) {
    // Explicitly asked for: the data volume (/data), never the read-only root's `<DATA_DIR>/../bus`.
    data.EMBEDDED_BACKENDS = embedded.join(',');
    if (embedded.includes('bus')) data.BUS_URL = 'embedded:///data/bus';
  }
  return { data, missing, needsSecrets: managedSecretNames(config, env, service).length > 0 };
}
