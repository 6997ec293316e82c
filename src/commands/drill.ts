import { supports } from '../chaos/faults.ts';
import type { CommandContext } from '../core/context.ts';
import { formatDuration } from '../core/duration.ts';
import { ExitCode, PlatformError, UsageError } from '../core/errors.ts';
import * as drills from '../drills/engine.ts';
import type { TimelineEntry } from '../drills/state.ts';
import { readPostmortem } from '../incidents/file-actions.ts';
import { openProvider } from '../providers/provider.ts';
import { describeFiling, fileReportActions } from './incident.ts';

async function drillEnv(ctx: CommandContext, env?: string): Promise<drills.DrillEnv> {
  const platform = ctx.loadPlatform();
  const provider = await openProvider(platform, env);
  const status = await provider.status();
  if (!status.running || !status.gatewayUrl) {
    throw new PlatformError('NOT_RUNNING', 'the platform is not running', {
      hint: 'start it with `platformctl up --detach`',
    });
  }
  return {
    root: platform.root,
    provider,
    gatewayUrl: status.gatewayUrl,
    gatewayAdminUrl: status.gatewayAdminUrl ?? status.gatewayUrl,
  };
}

function line(ctx: CommandContext, e: TimelineEntry): string {
  return `${ctx.out.style.dim(formatDuration(e.t).padStart(7))}  ${e.type.padEnd(15)} ${e.message}`;
}

export async function start(
  ctx: CommandContext,
  _args: string[],
  opts: { scenario?: string; random?: boolean; seed?: string; env?: string; dryRun?: boolean },
) {
  if (opts.scenario && opts.random) throw new UsageError('give --scenario or --random, not both');
  const seed = opts.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(opts.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer (got "${opts.seed}")`);
  if (opts.dryRun) {
    // For the drill leader: which scenario, which faults, whether this provider can inject them.
    const platform = ctx.loadPlatform();
    const provider = await openProvider(platform, opts.env);
    const scenario = drills.pickScenario(platform.root, { scenario: opts.scenario, seed });
    const faults = scenario.fault.map((f) => ({
      action: f.action,
      target: 'target' in f ? f.target?.service : undefined,
      supported: f.action === 'bad-release' ? provider.name === 'local' : supports(provider, f),
    }));
    ctx.out.result(
      { dryRun: true, scenario: scenario.name, title: scenario.title, seed, provider: provider.name, faults },
      () =>
        [
          `would start ${scenario.name} (${scenario.title}, ${scenario.severity}) on the ${provider.name} provider, seed ${seed}`,
          ...faults.map(
            (f) =>
              `  ${f.action}${f.target ? ` ${f.target}` : ''}${f.supported ? '' : ctx.out.style.yellow('  (not supported by this provider)')}`,
          ),
          `page: ${scenario.page}`,
        ].join('\n'),
    );
    return faults.every((f) => f.supported) ? ExitCode.ok : ExitCode.failure;
  }
  const env = await drillEnv(ctx, opts.env);
  const scenario = drills.pickScenario(env.root, { scenario: opts.scenario, seed });
  const { config } = ctx.loadPlatform();
  const progress = await ctx.out.progress('preparing the drill');
  let result: drills.StartResult;
  try {
    result = await drills.startDrill(env, scenario, {
      seed,
      webhooks: config.notifications.webhooks,
      onProgress: (m) => progress.update(m),
    });
  } finally {
    progress.stop();
  }
  const st = result.state;
  for (const d of result.deliveries)
    if (!d.ok) ctx.out.warn(`page to webhook ${d.hook} failed: ${d.error ?? `HTTP ${d.status}`}`);
  ctx.out.result(
    {
      id: st.id,
      scenario: opts.scenario ? st.scenario : undefined,
      severity: st.severity,
      page: st.page,
      startedAt: st.startedAt,
      seed,
      gatewayUrl: env.gatewayUrl,
      gatewayAdminUrl: env.gatewayAdminUrl,
      runbook: opts.scenario ? st.runbook : undefined,
      deliveries: result.deliveries,
    },
    () =>
      [
        ctx.out.style.red(`🚨 PAGE [${st.severity}] ${st.page}`),
        `drill ${st.id} started at ${st.startedAt} (seed ${seed})`,
        `gateway: ${env.gatewayUrl} (runbooks call it $GATEWAY; its metrics and admin API: ${env.gatewayAdminUrl}, $GATEWAY_ADMIN)`,
        `acknowledge: platformctl drill ack · notes: platformctl drill note "..." · stuck: platformctl drill hint`,
        'when you believe it is fixed: platformctl drill resolve',
      ].join('\n'),
  );
}

export async function hint(ctx: CommandContext) {
  const { root } = ctx.loadPlatform();
  const h = drills.hint(root);
  ctx.out.result({ level: h.level, hint: h.hint, exhausted: h.exhausted }, () =>
    h.exhausted ? `no more hints; the last one was: ${h.hint}` : `hint ${h.level}/3: ${h.hint}`,
  );
}

export async function ack(ctx: CommandContext) {
  const { root } = ctx.loadPlatform();
  const a = drills.ack(root);
  ctx.out.result({ acknowledgedAt: a.entry.at, t: a.entry.t, already: a.already }, () =>
    a.already
      ? `already acknowledged ${formatDuration(a.entry.t)} into the drill`
      : `acknowledged ${formatDuration(a.entry.t)} after the page`,
  );
}

export async function note(ctx: CommandContext, [text]: string[]) {
  if (!text?.trim())
    throw new UsageError('the note is empty', 'platformctl drill note "what you saw or did"');
  const { root } = ctx.loadPlatform();
  const n = drills.note(root, text.trim());
  ctx.out.result(n.entry, () => `noted at ${formatDuration(n.entry.t)}`);
}

export async function status(ctx: CommandContext) {
  const { root } = ctx.loadPlatform();
  const st = drills.status(root);
  if (!st) {
    ctx.out.result(
      { active: false },
      () => 'no drill is running (start one: platformctl drill start --random)',
    );
    return;
  }
  const { faults: _hidden, baseline: _baseline, file: _file, ...visible } = st;
  ctx.out.result({ active: true, ...visible }, () =>
    [
      `drill ${st.id} — [${st.severity}] ${st.page}`,
      `elapsed ${formatDuration(st.elapsedMs)}, hints taken ${st.hintsTaken}/3`,
      '',
      ...st.timeline.map((e) => line(ctx, e)),
    ].join('\n'),
  );
}

export async function resolve(
  ctx: CommandContext,
  _args: string[],
  opts: { env?: string; fileActions?: boolean; tracker?: string },
) {
  const env = await drillEnv(ctx, opts.env);
  const r = await drills.resolve(env);
  if (!r.resolved) {
    if (ctx.json) ctx.out.result({ resolved: false, failing: r.failing, probes: r.probes }, () => '');
    else {
      ctx.out.warn('not resolved: the platform is still unhealthy; the clock keeps running');
      for (const p of r.failing) ctx.out.print(`  ${ctx.out.style.red('FAIL')}  ${p.name}: ${p.detail}`);
    }
    return ExitCode.failure;
  }
  const rec = r.record;
  for (const p of r.problems) ctx.out.warn(`could not revert: ${p}`);
  // The drill is resolved whatever the tracker says: a filing failure is reported, not thrown,
  // and `incident file-actions` can finish the job later without duplicates.
  let filing: Awaited<ReturnType<typeof fileReportActions>> | undefined;
  let filingError: PlatformError | undefined;
  if (opts.fileActions && rec.report) {
    try {
      filing = await fileReportActions(ctx, readPostmortem(rec.report.json), { tracker: opts.tracker });
    } catch (err) {
      if (!(err instanceof PlatformError)) throw err;
      filingError = err;
      ctx.out.warn(`action items not filed: ${err.message}${err.hint ? ` (${err.hint})` : ''}`);
      ctx.out.warn('file them later with `platformctl incident file-actions`');
    }
  }
  ctx.out.result(
    {
      resolved: true,
      ...rec,
      ...(filing ? { fileActions: filing } : {}),
      ...(filingError
        ? { fileActions: { error: { code: filingError.code, message: filingError.message } } }
        : {}),
    },
    () =>
      [
        ctx.out.style.green(`resolved: ${rec.title} (${rec.scenario})`),
        `acknowledge ${rec.times?.acknowledgeMs === undefined ? '—' : formatDuration(rec.times.acknowledgeMs)} · detect ${rec.times?.detectMs === undefined ? '—' : formatDuration(rec.times.detectMs)} · mitigate ${formatDuration(rec.times?.mitigateMs ?? 0)}`,
        `score ${rec.score?.total}/100 (${rec.score?.grade}), hints ${rec.hintsTaken}`,
        `postmortem: ${rec.report?.markdown}`,
        ...(filing ? ['', describeFiling(ctx, filing)] : []),
      ].join('\n'),
  );
  return r.problems.length || filingError ? ExitCode.failure : ExitCode.ok;
}

export async function abort(ctx: CommandContext, _args: string[], opts: { env?: string }) {
  const platform = ctx.loadPlatform();
  const provider = await openProvider(platform, opts.env);
  const status = await provider.status();
  const platformDown = !status.running || !status.gatewayUrl;
  if (platformDown)
    ctx.out.warn('the platform is not running: only what outlives it (files, rollout records) is reverted');
  const { record } = await drills.abort(
    { root: platform.root, provider, gatewayUrl: status.gatewayUrl ?? '' },
    { platformDown },
  );
  ctx.out.result(
    { aborted: true, ...record },
    () => `drill ${record.id} (${record.scenario}) aborted; every fault reverted`,
  );
}

export async function history(ctx: CommandContext) {
  const { root } = ctx.loadPlatform();
  const h = drills.history(root);
  const fmt = (ms?: number) => (ms === undefined ? '—' : formatDuration(ms));
  ctx.out.result(h, () => {
    if (h.drills.length === 0) return 'no drills yet (start one: platformctl drill start --random)';
    return [
      ctx.out.table(
        ['started', 'scenario', 'outcome', 'ack', 'mitigate', 'hints', 'score'],
        h.drills.map((d) => [
          d.startedAt.slice(0, 16).replace('T', ' '),
          d.scenario,
          d.outcome,
          fmt(d.times?.acknowledgeMs),
          fmt(d.times?.mitigateMs),
          d.hintsTaken,
          d.score ? `${d.score.total} ${d.score.grade}` : '—',
        ]),
      ),
      '',
      ctx.out.table(
        ['scenario', 'runs', 'resolved', 'median mitigate', 'median score'],
        h.scenarios.map((s) => [
          s.scenario,
          s.runs,
          s.resolved,
          fmt(s.medianMitigateMs),
          s.medianScore ?? '—',
        ]),
      ),
      '',
      `score trend: ${h.scoreTrend.map((s) => s.score).join(' → ') || '—'}`,
    ].join('\n');
  });
}

export async function list(ctx: CommandContext) {
  const { root } = ctx.loadPlatform();
  const all = drills.listScenarios(root).map((s) => ({
    name: s.name,
    title: s.title,
    severity: s.severity,
    runbook: s.runbook,
  }));
  ctx.out.result(all, () =>
    ctx.out.table(
      ['scenario', 'severity', 'title'],
      all.map((s) => [s.name, s.severity, s.title]),
    ),
  );
}
