import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { formatDuration } from '../core/duration.ts';
import { ExitCode, UsageError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';
import { compareSummaries, parseMetrics, parseTolerance } from '../load/compare.ts';
import { renderHtmlReport } from '../load/report-html.ts';
import { plannedConnections, plannedDurationMs, runLoad } from '../load/run.ts';
import { loadScenario } from '../load/scenario.ts';
import { buildSummary, type LoadSummary, type TrendMetric } from '../load/summary.ts';
import { resolveTarget } from '../load/target.ts';
import { fileDescriptorLimit, nonDefaultLimits } from '../load/validity.ts';

interface RunFlags {
  rate?: string;
  duration?: string;
  vus?: string;
  target?: string;
  workers?: string;
  connections?: string;
  pipelining?: string;
  html?: string;
  out?: string;
  summaryExport?: string;
  thresholds?: boolean;
}

function num(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`,
      `e.g. --${flag} 10`,
    );
  }
  return n;
}

/** `.platform/reports/` of the project, when there is a platform.yaml (runs are kept for compare). */
function reportsDir(ctx: CommandContext): string | undefined {
  try {
    return statePaths(ctx.loadPlatform().root).reports;
  } catch {
    return undefined;
  }
}

function projectRoot(ctx: CommandContext): string {
  try {
    return ctx.loadPlatform().root;
  } catch {
    return ctx.cwd;
  }
}

export async function run(ctx: CommandContext, args: string[], flags: RunFlags): Promise<ExitCode> {
  const file = args[0] as string;
  if (flags.duration !== undefined && !/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(flags.duration)) {
    throw new UsageError(`--duration must be a duration such as 30s or 5m, got "${flags.duration}"`);
  }
  const scenario = loadScenario(
    resolve(ctx.cwd, file),
    {
      rate: num('rate', flags.rate, false),
      vus: num('vus', flags.vus, true),
      duration: flags.duration,
      workers: num('workers', flags.workers, true),
      connections: num('connections', flags.connections, true),
      pipelining: num('pipelining', flags.pipelining, true),
      noThresholds: flags.thresholds === false,
    },
    file,
  );
  const target = resolveTarget(flags.target, scenario.target, projectRoot(ctx));
  const planned = plannedDurationMs(scenario.executor);
  const out = ctx.out;
  const live = out.options.liveProgress;
  out.info(`${scenario.name}: ${describeExecutor(scenario.executor)} against ${target}`);
  const fds = fileDescriptorLimit();
  const connections = plannedConnections(scenario.executor);
  if (fds && connections > fds.soft - 64) {
    out.warn(
      `up to ${connections} connections but only ${fds.soft} file descriptors (hard limit ${fds.hard}): the generator will run out (EMFILE) and the run be invalid`,
    );
    out.info('hint: set maxInFlight or connections lower, or raise the hard limit (ulimit -Hn, as root)');
  }

  const lines = flags.out ? openLines(resolve(ctx.cwd, flags.out)) : undefined;
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  let lastLine = 0;
  let result: Awaited<ReturnType<typeof runLoad>>;
  try {
    result = await runLoad(scenario, {
      target,
      env: ctx.env,
      signal: controller.signal,
      onEvent: (m) => out.info(m),
      onInterval: (p, agg) => {
        const elapsed = Math.min(p.t * 1000, planned);
        lines?.write(`${JSON.stringify({ type: 'interval', scenario: scenario.name, ...p })}\n`);
        const { count, failed } = agg.counts();
        const text = `${formatDuration(elapsed)}/${formatDuration(planned)}  ${p.requests} req/s  errors ${pct(count ? failed / count : 0)}  p95 ${p.p95.toFixed(1)}ms  p99 ${p.p99.toFixed(1)}ms  in-flight ${p.inFlight}${p.dropped ? `  dropped ${p.dropped}` : ''}  remaining ${formatDuration(Math.max(0, planned - elapsed))}`;
        if (live) out.writeErr(`\r\u001b[K${text}`);
        else if (elapsed - lastLine >= 5000) {
          lastLine = elapsed;
          out.info(text);
        }
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
    if (live) out.writeErr('\r\u001b[K');
    await lines?.close();
  }
  const summary = buildSummary(result);
  const reports = reportsDir(ctx);
  if (reports) {
    const stamp = summary.state.startedAt.replace(/[:.]/g, '-');
    const file = join(reports, `load-${scenario.name.replace(/[^\w.-]+/g, '_')}-${stamp}.json`);
    try {
      writeFile(file, `${JSON.stringify(summary, null, 2)}\n`);
      out.debug(`summary saved to ${file}`);
    } catch (err) {
      out.warn(`could not save the summary under .platform/reports: ${(err as Error).message}`);
    }
  }
  if (flags.summaryExport)
    writeFile(resolve(ctx.cwd, flags.summaryExport), `${JSON.stringify(summary, null, 2)}\n`);
  if (flags.html) {
    writeFile(resolve(ctx.cwd, flags.html), renderHtmlReport(summary));
    out.info(`HTML report: ${flags.html}`);
  }
  out.result(summary, () => renderSummary(ctx, summary));
  if (result.aborted?.by === 'signal') return ExitCode.interrupted;
  if (!summary.valid) {
    for (const reason of summary.validity.reasons) out.warn(`invalid run: ${reason}`);
    out.info(
      out.style.red(
        `the run is invalid: the generator, not the server, limited it; its figures and thresholds do not count: exit ${ExitCode.invalidRun}`,
      ),
    );
    out.info('hint: lower the rate, add --workers, or run the generator on another machine');
    return ExitCode.invalidRun;
  }
  if (!summary.thresholdsOk || result.aborted?.by === 'threshold') {
    out.info(
      out.style.red(
        `thresholds failed${result.aborted ? ` (aborted: ${result.aborted.reason})` : ''}: exit ${ExitCode.thresholdsFailed}`,
      ),
    );
    return ExitCode.thresholdsFailed;
  }
  return ExitCode.ok;
}

function openLines(file: string) {
  mkdirSync(dirname(file), { recursive: true });
  const stream = createWriteStream(file);
  return {
    write: (s: string) => stream.write(s),
    close: () => new Promise<void>((r) => stream.end(r)),
  };
}

function writeFile(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function describeExecutor(ex: LoadSummary['executor']): string {
  switch (ex.type) {
    case 'constant-arrival-rate':
      return `${ex.rate} iterations per ${formatDuration(ex.timeUnit)} for ${formatDuration(ex.duration)} (open model)`;
    case 'ramping-arrival-rate':
      return `arrival rate from ${ex.startRate} through ${ex.stages.map((s) => `${s.target}@${formatDuration(s.duration)}`).join(', ')} per ${formatDuration(ex.timeUnit)} (open model)`;
    case 'ramping-vus':
      return ex.stages
        ? `VUs from ${ex.startVUs} through ${ex.stages.map((s) => `${s.target}@${formatDuration(s.duration)}`).join(', ')} (closed model)`
        : `${ex.vus} VUs for ${formatDuration(ex.duration ?? 0)} (closed model)`;
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

function renderSummary(ctx: CommandContext, s: LoadSummary): string {
  const out = ctx.out;
  const st = out.style;
  const d = s.metrics.http_req_duration as TrendMetric;
  const reqs = s.metrics.http_reqs?.values as { count: number; rate: number };
  const failed = s.metrics.http_req_failed?.values as { rate: number; passes: number };
  const checks = s.metrics.checks?.values as { rate: number; passes: number; fails: number };
  const dropped = s.metrics.dropped_iterations?.values as { count: number };
  const parts: string[] = [];
  parts.push(
    `${st.bold(s.scenario.name)}  ${s.executor.type} against ${s.target}  ${(s.state.testRunDurationMs / 1000).toFixed(1)}s  ${s.workers} worker(s)${s.state.aborted ? st.red(`  ABORTED: ${s.state.abortReason}`) : ''}`,
  );
  parts.push(
    `requests ${reqs.count} (${reqs.rate.toFixed(1)}/s)   failed ${pct(failed.rate)} (${failed.passes})   checks ${pct(checks.rate)} (${checks.passes}✓ ${checks.fails}✗)   dropped iterations ${dropped.count}`,
  );
  const row = (label: string, t: TrendMetric['values']) => [
    label,
    ...[t.avg, t.min, t.med, t['p(90)'], t['p(95)'], t['p(99)'], t.max].map((v) => v.toFixed(2)),
  ];
  const rows: (string | number)[][] = [];
  if (d.corrected) {
    rows.push(row('http_req_duration (corrected)', d.corrected));
    rows.push(row('http_req_duration (raw)', d.raw));
  } else rows.push(row('http_req_duration', d.raw));
  for (const [key, m] of Object.entries(s.metrics)) {
    if (key.startsWith('http_req_duration{'))
      rows.push(row(`  ${key.slice('http_req_duration'.length)}`, (m as TrendMetric).values));
  }
  parts.push('');
  parts.push(out.table(['latency (ms)', 'avg', 'min', 'med', 'p90', 'p95', 'p99', 'max'], rows));
  const lag = s.generator.scheduleLagMs;
  const generatorLate = lag !== null && lag.avg > 5;
  const generatorErrors = Object.entries(s.generator.errors);
  if (generatorErrors.length > 0) {
    parts.push(
      st.yellow(
        `generator errors (not counted as failed requests): ${generatorErrors.map(([k, v]) => `${k}=${v}`).join('  ')}`,
      ),
    );
  }
  if (d.corrected) {
    const ratio = d.raw['p(99)'] > 0 ? d.corrected['p(99)'] / d.raw['p(99)'] : 1;
    if (ratio > 1.5 && d.corrected['p(99)'] - d.raw['p(99)'] > 10 && !generatorLate) {
      parts.push(
        st.yellow(
          `note: p99 from the intended send time is ${ratio.toFixed(1)}x the raw p99: requests waited for a busy server before they could be sent (coordinated omission, corrected here).`,
        ),
      );
    }
  }
  if (!s.valid) parts.push(st.red(`INVALID RUN: ${s.validity.reasons.join('; ')}`));
  const ownLimits = nonDefaultLimits(s.validity.limits);
  // A run judged valid against loosened limits must not read like one judged against the defaults.
  if (ownLimits.length > 0)
    parts.push(st.yellow(`validity limits set by the scenario: ${ownLimits.join(', ')}`));
  else if (generatorLate && lag) {
    parts.push(
      st.yellow(
        `warning: the generator started iterations ${lag.avg.toFixed(1)} ms late on average (max ${lag.max.toFixed(0)} ms): it was short of CPU, so latencies include its own delay. Add --workers, or run it on another machine.`,
      ),
    );
  }
  if (s.root_group.checks.length > 0) {
    parts.push('');
    parts.push(
      out.table(
        ['check', 'passes', 'fails'],
        s.root_group.checks.map((c) => [
          c.fails ? st.red(`✗ ${c.name}`) : st.green(`✓ ${c.name}`),
          c.passes,
          c.fails,
        ]),
      ),
    );
  }
  const statuses = Object.entries(s.statuses);
  if (statuses.length > 0) parts.push(`\nstatus codes: ${statuses.map(([k, v]) => `${k}=${v}`).join('  ')}`);
  if (s.thresholds.length > 0) {
    parts.push('');
    parts.push(
      out.table(
        ['threshold', 'expression', 'actual', 'result'],
        s.thresholds.map((t) => [
          t.metric,
          t.expression,
          t.noData ? 'no data' : (t.actual ?? 'n/a'),
          t.ok ? st.green('pass') : st.red(t.noData ? 'FAIL (no data)' : 'FAIL'),
        ]),
      ),
    );
  }
  return parts.join('\n');
}

export async function compare(
  ctx: CommandContext,
  args: string[],
  flags: { tolerance: string; metric: string },
): Promise<ExitCode> {
  const [a, b] = args as [string, string];
  const result = compareSummaries(
    resolve(ctx.cwd, a),
    resolve(ctx.cwd, b),
    parseTolerance(flags.tolerance),
    parseMetrics(flags.metric),
  );
  const st = ctx.out.style;
  for (const m of result.mismatches) ctx.out.warn(`the runs may not be comparable: ${m}`);
  ctx.out.result({ ...result, baseline: a, candidate: b }, () => {
    const fmt = (metric: string, v: number) =>
      metric === 'error_rate' ? pct(v) : metric === 'rps' ? v.toFixed(1) : `${v.toFixed(2)}ms`;
    const table = ctx.out.table(
      ['metric', 'baseline', 'candidate', 'delta', 'change', 'result'],
      result.rows.map((r) => [
        r.metric,
        fmt(r.metric, r.baseline),
        fmt(r.metric, r.candidate),
        `${r.delta >= 0 ? '+' : ''}${r.metric === 'error_rate' ? `${(r.delta * 100).toFixed(2)}pp` : r.delta.toFixed(2)}`,
        r.deltaPct === null ? 'n/a' : `${r.deltaPct >= 0 ? '+' : ''}${r.deltaPct.toFixed(1)}%`,
        r.regression ? st.red('REGRESSION') : st.green('ok'),
      ]),
    );
    return `${a} → ${b} (tolerance ${result.tolerancePct}%)\n${table}\n${result.regressed ? st.red('regression beyond tolerance') : st.green('no regression beyond tolerance')}`;
  });
  return result.regressed ? ExitCode.thresholdsFailed : ExitCode.ok;
}
