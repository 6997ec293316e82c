import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerAnalytics(program: Command): void {
  const analytics = program.command('analytics').description('The analytics service’s data.');
  const exp = analytics
    .command('export')
    .description(
      'Export the raw events received on one UTC day to the data lake: events/dt=YYYY-MM-DD/part-N.jsonl.gz (gzip JSON lines) in a blob store. Idempotent; run daily for yesterday.',
    )
    .option('--date <YYYY-MM-DD>', 'the day to export (default: yesterday, UTC)')
    .option('--dry-run', 'show source and target, write nothing')
    .action(lazyAction(async () => (await import('./analytics.ts')).exportEvents, { mutating: true }));
  examples(exp, [
    ['export yesterday from the local platform into .platform/data/lake', 'platformctl analytics export'],
    [
      'export a day to S3 (credentials from AWS_* env vars)',
      'ANALYTICS_EXPORT_URL="s3://lake?region=eu-west-1" platformctl analytics export --date 2026-01-31',
    ],
  ]);
}
