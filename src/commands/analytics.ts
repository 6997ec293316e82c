import { join } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { UsageError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';
import { lakeUrl, shownUrl } from '../lake/location.ts';

interface ExportOptions {
  date?: string;
  format?: string;
  dryRun?: boolean;
}

/** Source: `ANALYTICS_LOG_URL` or the local log; target: `ANALYTICS_EXPORT_URL` or `.platform/data/lake`. */
export async function exportEvents(ctx: CommandContext, _args: string[], opts: ExportOptions) {
  const { root } = ctx.loadPlatform();
  const { dayBounds, exportDay, partitionPrefix } = await import('../../runtime/analytics/src/export.ts');
  const date = opts.date ?? new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  try {
    dayBounds(date);
  } catch (err) {
    throw new UsageError((err as Error).message, 'pass --date as YYYY-MM-DD, e.g. --date 2026-01-31');
  }
  const format = opts.format ?? 'parquet';
  if (format !== 'parquet' && format !== 'jsonl')
    throw new UsageError(
      `--format must be parquet or jsonl (got "${format}")`,
      'pass --format parquet or --format jsonl',
    );
  const data = statePaths(root).data;
  const logUrl = process.env.ANALYTICS_LOG_URL ?? `sqlite://${join(data, 'analytics', 'analytics-log.db')}`;
  const target = lakeUrl(root, ctx.env);
  const shown = shownUrl(target);
  if (opts.dryRun) {
    ctx.out.result(
      { date, format, dryRun: true, target: shown, prefix: partitionPrefix(date) },
      () => `would export ${date} as ${format} to ${shown}/${partitionPrefix(date)}`,
    );
    return;
  }
  const { openDb } = await import('../../runtime/lib/storage/db.ts');
  const { openBlobs } = await import('../../runtime/lib/storage/blobs.ts');
  const logDb = await openDb(logUrl);
  try {
    const blobs = await openBlobs(target);
    const progress = await ctx.out.progress(`exporting ${date}`);
    const result = await exportDay(logDb, blobs, date, { format }).catch((err: unknown) => {
      progress.fail();
      throw err;
    });
    progress.stop();
    ctx.out.result({ ...result, target: shown }, () =>
      result.events === 0
        ? `no events received on ${date} (an empty partition with _SUCCESS was written to ${shown}/${result.prefix})`
        : `exported ${result.events} events of ${date} in ${result.parts.length} part(s) to ${shown}/${result.prefix}`,
    );
  } finally {
    await logDb.close();
  }
}

interface QueryOptions {
  saved?: string;
  csv?: boolean;
}

/** SQL over the lake: a table on a terminal, `--json` for tools, `--csv` for spreadsheets. */
export async function query(ctx: CommandContext, args: string[], opts: QueryOptions) {
  const { root } = ctx.loadPlatform();
  const lake = await import('../lake/query.ts');
  if (args[0] && opts.saved) throw new UsageError('give a SQL query or --saved, not both');
  const sql = opts.saved ? lake.savedQuery(opts.saved) : args[0];
  if (!sql?.trim())
    throw new UsageError(
      'no query: pass SQL over the "events" table, or --saved <name>',
      `saved queries: ${lake.savedQueries().join(', ')}`,
    );
  const url = lakeUrl(root, ctx.env);
  const progress = await ctx.out.progress(`reading the lake at ${shownUrl(url)}`);
  let result: Awaited<ReturnType<typeof lake.queryLake>>;
  try {
    const dir = await lake.localLake(url, join(statePaths(root).data, 'lake-cache'), (m) =>
      progress.update(m),
    );
    result = await lake.queryLake(dir, sql);
  } finally {
    progress.stop();
  }
  if (opts.csv && !ctx.json) {
    ctx.out.print(lake.toCsv(result));
    return;
  }
  ctx.out.result(result, () =>
    result.rows.length === 0
      ? '(no rows)'
      : ctx.out.table(
          result.columns,
          result.rows.map((r) => result.columns.map((c) => (r[c] === null ? '' : String(r[c])))),
        ),
  );
}
