import { relative } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { ExitCode } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';
import {
  type FilingResult,
  fileActionItems,
  latestPostmortem,
  type PostmortemReport,
  readPostmortem,
} from '../incidents/file-actions.ts';
import { openTracker, type TrackerFlags } from '../incidents/open-tracker.ts';

interface FileActionsOptions extends TrackerFlags {
  dryRun?: boolean;
}

/**
 * Files a report's action items and renders the outcome; shared by `incident file-actions` and
 * `drill resolve --file-actions`.
 */
export async function fileReportActions(
  ctx: CommandContext,
  report: PostmortemReport,
  opts: FileActionsOptions,
): Promise<{ tracker: string; target: string; dryRun: boolean; items: FilingResult[] }> {
  const platform = ctx.loadPlatform();
  const { config, root } = platform;
  const tracker = await openTracker(config.incidents, opts, ctx.env, ctx.cwd);
  const owners = [
    ...new Set(
      report.services
        .map((s) => config.services[s]?.owner ?? config.owner)
        .concat(report.services.length ? [] : [config.owner])
        .filter((o): o is string => Boolean(o)),
    ),
  ];
  const progress = await ctx.out.progress(`reading follow-ups in ${tracker.target}`);
  try {
    const items = await fileActionItems(report, tracker, {
      owners,
      postmortemLink: relative(root, report.file.replace(/\.json$/, '.md')),
      dryRun: opts.dryRun,
      onFiled: (r) => progress.update(`${r.status} ${r.ref ?? ''} ${r.title}`),
    });
    return { tracker: tracker.kind, target: tracker.target, dryRun: Boolean(opts.dryRun), items };
  } finally {
    progress.stop();
  }
}

/** Human rendering of a filing run. */
export function describeFiling(
  ctx: CommandContext,
  outcome: Awaited<ReturnType<typeof fileReportActions>>,
): string {
  const s = ctx.out.style;
  const mark = (st: FilingResult['status']) =>
    st === 'created' ? s.green('created') : st === 'exists' ? s.dim('exists') : s.yellow('would create');
  const created = outcome.items.filter((i) => i.status === 'created').length;
  return [
    ctx.out.table(
      ['status', 'issue', 'action item'],
      outcome.items.map((i) => [mark(i.status), i.ref ?? '—', i.title]),
    ),
    '',
    outcome.dryRun
      ? `dry run: ${outcome.items.filter((i) => i.status === 'would-create').length} item(s) would be filed in ${outcome.target}`
      : `${created} filed, ${outcome.items.length - created} already filed, in ${outcome.target}`,
  ].join('\n');
}

export async function fileActions(ctx: CommandContext, args: string[], opts: FileActionsOptions) {
  const { root } = ctx.loadPlatform();
  const file = args[0] ?? latestPostmortem(`${statePaths(root).reports}/drills`);
  const report = readPostmortem(file);
  const outcome = await fileReportActions(ctx, report, opts);
  ctx.out.result({ postmortem: file, ...outcome }, () => describeFiling(ctx, outcome));
  return ExitCode.ok;
}
