/**
 * platform.yaml `environments.<env>.backends` → the env vars of the runtime contract for one
 * service (`DATABASE_URL`, `BUS_URL`, `BLOBS_URL`). Values come from the process environment or the
 * environment's secrets (`platformctl secrets set <env> '*.AMQP_URL' …`), never from flags:
 * - database `postgres`: `<SERVICE>_DATABASE_URL`, else `PLATFORMCTL_POSTGRES_URL` with the
 *   service's own database (`/<service>`); the password is best given as `PGPASSWORD`;
 * - bus `rabbitmq`: `AMQP_URL`;
 * - blobs `s3`: `s3://<S3_BUCKET or platform name>/<service>` (+ `S3_ENDPOINT`, `AWS_*`, which the
 *   service reads from its environment).
 * The embedded defaults (sqlite, embedded bus, files) set nothing: services derive them from DATA_DIR.
 */

import type { PlatformConfig } from '../core/config/schema.ts';
import { PlatformError } from '../core/errors.ts';
import { databaseUrlFor, isDatabaseService } from './service-databases.ts';

export type Backends = PlatformConfig['environments'][string]['backends'];

/** The environment the local provider runs: `PLATFORMCTL_ENV`, else the first with provider local. */
export function localEnvironment(
  config: PlatformConfig,
  env: NodeJS.ProcessEnv = process.env,
): { name: string; backends: Backends } | undefined {
  const named = env.PLATFORMCTL_ENV;
  const entry = named
    ? Object.entries(config.environments).find(([n]) => n === named)
    : Object.entries(config.environments).find(([, e]) => e.provider === 'local');
  return entry ? { name: entry[0], backends: entry[1].backends } : undefined;
}

export function backendEnv(
  root: string,
  config: PlatformConfig,
  service: string,
  backends: Backends,
  source: NodeJS.ProcessEnv,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (backends.database === 'postgres' && isDatabaseService(service)) {
    out.DATABASE_URL = databaseUrlFor(root, service, 'postgres', source);
  }
  if (backends.bus === 'rabbitmq') {
    const url = source.AMQP_URL;
    if (!url) {
      throw new PlatformError('BACKEND_URL_MISSING', 'backends.bus is rabbitmq but AMQP_URL is not set', {
        hint: "export AMQP_URL=amqp://user:pass@host:5672 or store it: platformctl secrets set <env> '*.AMQP_URL'",
      });
    }
    out.BUS_URL = url;
  }
  if (backends.blobs === 's3') {
    out.BLOBS_URL = `s3://${source.S3_BUCKET ?? config.name}/${service}`;
  }
  return out;
}
