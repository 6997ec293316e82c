import type { CommandContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { ExitCode, UsageError } from '../core/errors.ts';
import {
  conclusionExitCode,
  explainFailures,
  GitHubPipelines,
  githubFromEnv,
  type JobInfo,
  type RunInfo,
  resolveRepo,
} from '../providers/github.ts';

interface CommonOptions {
  repo?: string;
  interval: string;
  timeout?: string;
}

function duration(flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new UsageError(`--${flag} "${value}" is not a duration`, `write it like 30s, 5m or 1h`);
  return ms;
}

function runId(value: string | undefined): number {
  const id = Number(value);
  if (!value || !Number.isSafeInteger(id) || id <= 0)
    throw new UsageError(
      `"${value}" is not a run id`,
      'pass the numeric id shown by `pipeline run` or `pipeline list`',
    );
  return id;
}

function client(ctx: CommandContext, opts: CommonOptions): GitHubPipelines {
  const octokit = explainFailures(githubFromEnv(ctx.env));
  return new GitHubPipelines(octokit, resolveRepo(opts.repo, ctx.env, ctx.cwd));
}

function describeRun(ctx: CommandContext, run: RunInfo, jobs: JobInfo[]): string {
  const s = ctx.out.style;
  const mark = (status: string, conclusion: string | null) =>
    status !== 'completed'
      ? s.yellow(status)
      : conclusion === 'success'
        ? s.green(conclusion)
        : s.red(conclusion ?? 'unknown');
  const lines = [`run ${run.id} ${run.name} — ${mark(run.status, run.conclusion)}`, `  ${run.url}`];
  for (const j of jobs) lines.push(`  ${mark(j.status, j.conclusion)}  ${j.name}`);
  return lines.join('\n');
}

async function follow(
  ctx: CommandContext,
  gh: GitHubPipelines,
  id: number,
  opts: CommonOptions,
): Promise<RunInfo> {
  const progress = await ctx.out.progress(`waiting for run ${id}`);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const run = await gh.wait(id, {
      intervalMs: duration('interval', opts.interval),
      timeoutMs: duration('timeout', opts.timeout ?? '60m'),
      signal: controller.signal,
      onChange: (r, jobs) => {
        const active = jobs.find((j) => j.status === 'in_progress');
        const step = active?.steps.find((st) => st.status === 'in_progress');
        progress.update(
          `run ${id}: ${r.status}${active ? ` — ${active.name}${step ? `: ${step.name}` : ''}` : ''}`,
        );
      },
    });
    if (run.conclusion === 'success') progress.succeed(`run ${id} succeeded`);
    else progress.fail(`run ${id} ${run.conclusion ?? 'ended'}`);
    return run;
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
  }
}

interface RunOptions extends CommonOptions {
  ref: string;
  field: string[];
  wait?: boolean;
  correlationInput?: string;
}

export async function run(ctx: CommandContext, [workflow]: string[], opts: RunOptions) {
  const inputs: Record<string, string> = {};
  for (const pair of opts.field) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--field "${pair}" is not key=value`, 'write it like -f env=staging');
    inputs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const gh = client(ctx, opts);
  const dispatched = await gh.dispatch(workflow as string, opts.ref, inputs, {
    correlationInput: opts.correlationInput,
    pollMs: duration('interval', opts.interval),
  });
  ctx.out.info(`started run ${dispatched.run.id}: ${dispatched.run.url}`);
  if (!opts.wait) {
    ctx.out.result({ run: dispatched.run, foundBy: dispatched.foundBy }, () => String(dispatched.run.id));
    return;
  }
  const final = await follow(ctx, gh, dispatched.run.id, opts);
  const jobs = await gh.jobs(final.id);
  ctx.out.result({ run: final, jobs, foundBy: dispatched.foundBy }, () => describeRun(ctx, final, jobs));
  return conclusionExitCode(final.conclusion);
}

export async function status(ctx: CommandContext, [id]: string[], opts: CommonOptions) {
  const gh = client(ctx, opts);
  const r = await gh.run(runId(id));
  const jobs = await gh.jobs(r.id);
  ctx.out.result({ run: r, jobs }, () => describeRun(ctx, r, jobs));
  return r.status === 'completed' ? conclusionExitCode(r.conclusion) : ExitCode.ok;
}

export async function watch(ctx: CommandContext, [id]: string[], opts: CommonOptions) {
  const gh = client(ctx, opts);
  const final = await follow(ctx, gh, runId(id), opts);
  const jobs = await gh.jobs(final.id);
  ctx.out.result({ run: final, jobs }, () => describeRun(ctx, final, jobs));
  return conclusionExitCode(final.conclusion);
}

export async function logs(ctx: CommandContext, [id]: string[], opts: CommonOptions & { job?: string }) {
  const gh = client(ctx, opts);
  const all = await gh.logs(runId(id), opts.job);
  ctx.out.result(all, () => all.map((l) => `${ctx.out.style.bold(`== ${l.job}`)}\n${l.text}`).join('\n'));
}

export async function cancel(ctx: CommandContext, [id]: string[], opts: CommonOptions) {
  const gh = client(ctx, opts);
  await gh.cancel(runId(id));
  ctx.out.result({ cancelled: Number(id) }, () => `cancel requested for run ${id}`);
}

export async function rerun(
  ctx: CommandContext,
  [id]: string[],
  opts: CommonOptions & { failed?: boolean; wait?: boolean },
) {
  const gh = client(ctx, opts);
  await gh.rerun(runId(id), Boolean(opts.failed));
  ctx.out.info(`re-run requested for run ${id}${opts.failed ? ' (failed jobs)' : ''}`);
  if (!opts.wait) {
    ctx.out.result({ rerun: Number(id), failedOnly: Boolean(opts.failed) }, () => '');
    return;
  }
  const final = await follow(ctx, gh, runId(id), opts);
  const jobs = await gh.jobs(final.id);
  ctx.out.result({ run: final, jobs }, () => describeRun(ctx, final, jobs));
  return conclusionExitCode(final.conclusion);
}

export async function list(
  ctx: CommandContext,
  _args: string[],
  opts: CommonOptions & { workflow?: string; limit: string },
) {
  const gh = client(ctx, opts);
  const runs = await gh.listRuns(opts.workflow, undefined, Number(opts.limit));
  ctx.out.result(runs, () =>
    ctx.out.table(
      ['ID', 'WORKFLOW', 'TITLE', 'BRANCH', 'STATUS', 'CONCLUSION', 'CREATED'],
      runs.map((r) => [r.id, r.name, r.title, r.branch ?? '', r.status, r.conclusion ?? '', r.createdAt]),
    ),
  );
}
