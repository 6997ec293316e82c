import { join } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { UsageError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';

interface ExportOptions {
  date?: string;
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
  const data = statePaths(root).data;
  const logUrl = process.env.ANALYTICS_LOG_URL ?? `sqlite://${join(data, 'analytics', 'analytics-log.db')}`;
  const target = process.env.ANALYTICS_EXPORT_URL ?? `file://${join(data, 'lake')}`;
  const shown = target.replace(/\?.*$/, '');
  if (opts.dryRun) {
    ctx.out.result(
      { date, dryRun: true, target: shown, prefix: partitionPrefix(date) },
      () => `would export ${date} to ${shown}/${partitionPrefix(date)}`,
    );
    return;
  }
  const { openDb } = await import('../../runtime/lib/storage/db.ts');
  const { openBlobs } = await import('../../runtime/lib/storage/blobs.ts');
  const logDb = await openDb(logUrl);
  try {
    const blobs = await openBlobs(target);
    const progress = await ctx.out.progress(`exporting ${date}`);
    const result = await exportDay(logDb, blobs, date).catch((err: unknown) => {
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
