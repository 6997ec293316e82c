import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerAnalytics(program: Command): void {
  const analytics = program.command('analytics').description('The analytics service’s data.');
  const exp = analytics
    .command('export')
    .description(
      'Export the raw events received on one UTC day to the data lake: events/dt=YYYY-MM-DD/part-N.parquet (or gzip JSON lines) in a blob store. Idempotent; run daily for yesterday.',
    )
    .option('--date <YYYY-MM-DD>', 'the day to export (default: yesterday, UTC)')
    .option(
      '--format <format>',
      'parquet (columns of runtime/analytics/lake/events.schema.json) or jsonl',
      'parquet',
    )
    .option('--dry-run', 'show source and target, write nothing')
    .action(lazyAction(async () => (await import('./analytics.ts')).exportEvents, { mutating: true }));
  examples(exp, [
    ['export yesterday from the local platform into .platform/data/lake', 'platformctl analytics export'],
    [
      'export a day to S3 (credentials from AWS_* env vars)',
      'ANALYTICS_EXPORT_URL="s3://lake?region=eu-west-1" platformctl analytics export --date 2026-01-31',
    ],
  ]);
  const query = analytics
    .command('query [sql]')
    .description(
      'Answer a SQL question over the lake with DuckDB: the table "events" (columns of runtime/analytics/lake/events.schema.json, partition column dt). Read-only.',
    )
    .option(
      '--saved <name>',
      'run a saved query instead: daily-active-users, top-content-by-country, retention-cohorts',
    )
    .option('--csv', 'print CSV (RFC 4180) instead of a table')
    .action(lazyAction(async () => (await import('./analytics.ts')).query));
  examples(query, [
    ['daily active users', 'platformctl analytics query --saved daily-active-users'],
    [
      'views per type, as CSV',
      'platformctl analytics query "SELECT type, count(*) AS n FROM events GROUP BY type" --csv',
    ],
    [
      'from an S3 lake, as JSON',
      'ANALYTICS_EXPORT_URL="s3://lake?region=eu-west-1" platformctl analytics query --saved top-content-by-country --json',
    ],
  ]);
}
