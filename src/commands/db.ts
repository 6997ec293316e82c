import type { CommandContext } from '../core/context.ts';
import { PlatformError, UsageError } from '../core/errors.ts';

/** A database that went away mid-migration is an outage to report, not a bug in platformctl. */
function toMigrateError(err: unknown, shown: string): unknown {
  const e = err as { code?: string; dependency?: string };
  if (e?.code === 'DATABASE_UNAVAILABLE' || e?.dependency === 'database') {
    return new PlatformError(
      'DATABASE_UNREACHABLE',
      `the database ${shown} stopped answering during the migration`,
      {
        hint: 'run `platformctl db migrate` again once it is back (applied migrations are recorded; the rest run then)',
        cause: err,
      },
    );
  }
  return err;
}

interface MigrateOptions {
  service?: string;
  env?: string;
  dryRun?: boolean;
}

export async function migrate(ctx: CommandContext, _args: string[], opts: MigrateOptions) {
  const { config, root } = ctx.loadPlatform();
  const envName = opts.env ?? 'local';
  const environment = config.environments[envName];
  if (!environment) {
    throw new UsageError(
      `unknown environment "${envName}"`,
      `choose one of ${Object.keys(config.environments).join(', ')}`,
    );
  }
  const data = await import('../data/service-databases.ts');
  const { openDb } = await import('../../runtime/lib/storage/db.ts');
  const { ensureDatabase } = await import('../data/ensure-database.ts');
  const results: { service: string; url: string; applied: string[]; database?: string }[] = [];
  for (const service of data.selectServices(opts.service)) {
    // URLs from the process environment first, else the environment's secrets.
    const { secretsEnvFor } = await import('../secrets/inject.ts');
    const source = { ...secretsEnvFor(root, envName, service), ...process.env };
    const url = data.databaseUrlFor(root, service, environment.backends.database, source);
    const postgres = url.startsWith('postgres');
    if (opts.dryRun) {
      const database = postgres ? await ensureDatabase(url, { dryRun: true }) : undefined;
      results.push({ service, url: data.redact(url), applied: [], ...(database ? { database } : {}) });
      continue;
    }
    const progress = await ctx.out.progress(`migrating ${service} (${data.redact(url)})`);
    let database: string | undefined;
    try {
      database = postgres ? await ensureDatabase(url) : undefined;
    } catch (err) {
      progress.fail();
      throw err;
    }
    const db = await openDb(url);
    try {
      results.push({
        service,
        url: data.redact(url),
        applied: await db.migrate(await data.migrationsFor(service)),
        ...(database ? { database } : {}),
      });
      progress.stop();
    } catch (err) {
      progress.fail();
      throw toMigrateError(err, data.redact(url));
    } finally {
      await db.close();
    }
  }
  ctx.out.result({ environment: envName, dryRun: Boolean(opts.dryRun), services: results }, () =>
    results
      .map((r) =>
        opts.dryRun
          ? `${r.service}: ${r.database === 'would create' ? 'would create the database and ' : ''}would migrate ${r.url}`
          : `${r.service}: ${r.database === 'created' ? 'created the database, ' : ''}${r.applied.length ? `applied ${r.applied.join(', ')}` : 'up to date'} (${r.url})`,
      )
      .join('\n'),
  );
}

interface CopyOptions {
  service: string;
  from?: string;
  to?: string;
  batch?: string;
  dryRun?: boolean;
}

export async function copy(ctx: CommandContext, _args: string[], opts: CopyOptions) {
  const { root } = ctx.loadPlatform();
  const data = await import('../data/service-databases.ts');
  const [service] = data.selectServices(opts.service);
  if (!service) throw new UsageError('--service is required');
  const batchSize = Number(opts.batch ?? 500);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new UsageError('--batch must be a whole number from 1 to 100000');
  }
  for (const [flag, url] of [
    ['--from', opts.from],
    ['--to', opts.to],
  ] as const) {
    if (url && /^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url)) {
      throw new UsageError(
        `${flag} contains a password`,
        'leave it out of the URL and set PGPASSWORD (or <SERVICE>_DATABASE_URL) in the environment',
      );
    }
  }
  const from = opts.from ?? data.databaseUrlFor(root, service, 'sqlite', {});
  const to = opts.to ?? data.databaseUrlFor(root, service, 'postgres');
  if (opts.dryRun) {
    ctx.out.result(
      { service, from: data.redact(from), to: data.redact(to), dryRun: true },
      () => `would copy ${service} from ${data.redact(from)} to ${data.redact(to)}`,
    );
    return;
  }
  const { copyDatabase } = await import('../data/copy.ts');
  const progress = await ctx.out.progress(`copying ${service}`);
  const report = await copyDatabase({
    from,
    to,
    migrations: await data.migrationsFor(service),
    batchSize,
    onProgress: (p) => progress.update(`${p.table}: ${p.read} rows read, ${p.inserted} inserted`),
  }).catch((err: unknown) => {
    progress.fail();
    throw err;
  });
  progress.stop();
  ctx.out.result({ service, from: data.redact(from), to: data.redact(to), ...report }, () =>
    [
      ctx.out.table(
        ['table', 'read', 'inserted'],
        report.tables.map((t) => [t.table, t.read, t.inserted]),
      ),
      `copied ${service}: ${report.tables.reduce((n, t) => n + t.inserted, 0)} rows inserted`,
    ].join('\n'),
  );
}
