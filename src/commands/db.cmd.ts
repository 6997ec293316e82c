import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerDb(program: Command): void {
  const db = program
    .command('db')
    .description('Databases of the built-in services: migrations and the move from SQLite to PostgreSQL.');
  const migrate = db
    .command('migrate')
    .description(
      "Apply each service's pending migrations to its database for an environment (URLs from <SERVICE>_DATABASE_URL or PLATFORMCTL_POSTGRES_URL, never flags).",
    )
    .option('--service <name>', 'only this service (auth, content, analytics)')
    .option('--env <name>', 'environment whose backends.database decides sqlite or postgres', 'local')
    .option('--dry-run', 'show which databases would be migrated, change nothing')
    .action(lazyAction(async () => (await import('./db.ts')).migrate, { mutating: true }));
  examples(migrate, [
    ['migrate every service for the local environment', 'platformctl db migrate'],
    [
      'migrate content on PostgreSQL (password from PGPASSWORD)',
      'PLATFORMCTL_POSTGRES_URL=postgres://app@db:5432/postgres platformctl db migrate --service content --env prod',
    ],
  ]);
  const copy = db
    .command('copy')
    .description(
      "Copy a service's data from SQLite to PostgreSQL in batches; idempotent (rows already there are skipped). Stop the service first.",
    )
    .requiredOption(
      '--service <name>',
      'service whose schema is created on the target (auth, content, analytics)',
    )
    .option('--from <url>', 'source sqlite:// URL (default: the local platform file of the service)')
    .option('--to <url>', 'target postgres:// URL without password (default: the env URL of the service)')
    .option('--batch <n>', 'rows per batch', '500')
    .option('--dry-run', 'show source and target, copy nothing')
    .action(lazyAction(async () => (await import('./db.ts')).copy, { mutating: true }));
  examples(copy, [
    [
      'move the local content data to PostgreSQL',
      'PGPASSWORD=… platformctl db copy --service content --to postgres://app@127.0.0.1:5432/content',
    ],
  ]);
}
