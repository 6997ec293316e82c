/**
 * Which built-in services own a database, their migrations, and where their database is for an
 * environment. URLs come from the environment (secrets are never flags):
 * - `<SERVICE>_DATABASE_URL` (e.g. `CONTENT_DATABASE_URL`) for one service;
 * - otherwise, when the environment's `backends.database` is `postgres`, `PLATFORMCTL_POSTGRES_URL`
 *   (a server URL; each service gets its own database named after it, e.g. `/content`);
 * - otherwise the local SQLite file the local provider uses (`.platform/data/<svc>/<svc>.db`).
 * The password may be left out of URLs and given as `PGPASSWORD` (node-postgres reads it).
 */
import { join } from 'node:path';
import type { Migration } from '../../runtime/lib/storage/db.ts';
import { PlatformError, UsageError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';

export const DATABASE_SERVICES = ['auth', 'content', 'analytics'] as const;
export type DatabaseService = (typeof DATABASE_SERVICES)[number];

export function isDatabaseService(name: string): name is DatabaseService {
  return (DATABASE_SERVICES as readonly string[]).includes(name);
}

/** The service's migrations, loaded from its runtime package (the same list the service runs). */
export async function migrationsFor(service: DatabaseService): Promise<readonly Migration[]> {
  switch (service) {
    case 'auth':
      return (await import('../../runtime/auth/src/migrations.ts')).migrations;
    case 'content':
      return (await import('../../runtime/content/src/migrations.ts')).migrations;
    case 'analytics':
      return (await import('../../runtime/analytics/src/schema.ts')).migrations;
  }
}

/** Env var holding one service's database URL. */
export function serviceUrlVar(service: string): string {
  return `${service.toUpperCase().replace(/-/g, '_')}_DATABASE_URL`;
}

/** A server URL with the database (path) replaced by `database`. */
export function withDatabase(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

export function databaseUrlFor(
  root: string,
  service: DatabaseService,
  kind: 'sqlite' | 'postgres',
  env: NodeJS.ProcessEnv = process.env,
): string {
  const own = env[serviceUrlVar(service)];
  if (own) return own;
  if (kind === 'postgres') {
    const server = env.PLATFORMCTL_POSTGRES_URL;
    if (!server) {
      throw new PlatformError('BACKEND_URL_MISSING', `no PostgreSQL URL for ${service}`, {
        hint: `set ${serviceUrlVar(service)} or PLATFORMCTL_POSTGRES_URL (from the environment or \`platformctl secrets\`; never a flag)`,
      });
    }
    return withDatabase(server, service);
  }
  return `sqlite://${join(statePaths(root).data, service, `${service}.db`)}`;
}

/** Resolves `--service` (one) or all database services. */
export function selectServices(service: string | undefined): DatabaseService[] {
  if (service === undefined) return [...DATABASE_SERVICES];
  if (!isDatabaseService(service)) {
    throw new UsageError(`"${service}" has no database; choose one of ${DATABASE_SERVICES.join(', ')}`);
  }
  return [service];
}

/** A URL safe to print: the password replaced. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
