/**
 * `db migrate` on a PostgreSQL server that does not have the service's database yet: create it
 * when the role may (CREATE DATABASE), otherwise stop with the exact SQL to run. Also turns "the
 * server does not answer" into an error that says so, instead of a service's 503 reported as a bug.
 */
import pg from 'pg';
import { isConnectionError } from '../../runtime/lib/storage/postgres.ts';
import { PlatformError } from '../core/errors.ts';

/** `CREATE DATABASE` for a name, quoted as an identifier. */
export function createDatabaseSql(name: string): string {
  return `CREATE DATABASE "${name.replaceAll('"', '""')}";`;
}

/**
 * Makes sure the database named in `url` exists on its server. Returns `created`, `exists`, or
 * (with `dryRun`) `would create`; throws DATABASE_MISSING with the SQL when the role may not
 * create it, DATABASE_UNREACHABLE when the server does not answer.
 */
export async function ensureDatabase(
  url: string,
  options: { dryRun?: boolean; shown?: string } = {},
): Promise<'exists' | 'created' | 'would create'> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const shown = options.shown ?? `${target.hostname}:${target.port || 5432}`;
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 5000 });
  // A connection that ends while we are connected, without the server's goodbye first (a network
  // cut, a proxy or the server going away), makes the client emit 'error': unheard, an uncaught
  // exception and a stack trace instead of an error message. Heard, the statement in progress (or
  // the next) fails with a connection error, reported below.
  client.on('error', () => {});
  let connected = false;
  try {
    await client.connect();
    connected = true;
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return 'exists';
    if (options.dryRun) return 'would create';
    await client.query(createDatabaseSql(name));
    return 'created';
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '42501') {
      throw new PlatformError(
        'DATABASE_MISSING',
        `database "${name}" does not exist on ${shown} and this role may not create it`,
        {
          hint: `run as a role allowed to create databases: ${createDatabaseSql(name)} then run \`platformctl db migrate\` again`,
          cause: err,
        },
      );
    }
    if (connected && isConnectionError(err)) {
      throw new PlatformError(
        'DATABASE_UNREACHABLE',
        `lost the connection to PostgreSQL at ${shown}: ${(err as Error).message}`,
        {
          hint: 'the session ended (server restart or shutdown, pg_terminate_backend, a network cut); run the command again once the server answers',
          cause: err,
        },
      );
    }
    if (isConnectionError(err) || code === '28P01' || code === '3D000') {
      throw new PlatformError(
        'DATABASE_UNREACHABLE',
        `cannot connect to PostgreSQL at ${shown}: ${(err as Error).message}`,
        {
          hint: 'check that the server runs and that the URL (PLATFORMCTL_POSTGRES_URL / <SERVICE>_DATABASE_URL) and PGPASSWORD are right',
          cause: err,
        },
      );
    }
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}
