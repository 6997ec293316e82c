import { relative, resolve } from 'node:path';
import { stringify } from 'yaml';
import { clearActive, leftovers, readActive } from '../chaos/active-faults.ts';
import { renderChaosMesh } from '../chaos/chaos-mesh.ts';
import { type Action, loadExperiment } from '../chaos/experiment.ts';
import { revertUndo, supports } from '../chaos/faults.ts';
import { writeJournal } from '../chaos/journal.ts';
import { type JournalEntry, runExperiment } from '../chaos/runner.ts';
import type { PlatformConfig } from '../core/config/schema.ts';
import type { CommandContext } from '../core/context.ts';
import { formatDuration } from '../core/duration.ts';
import { ExitCode, PlatformError, UsageError } from '../core/errors.ts';
import { isAlive } from '../core/process-alive.ts';
import { until } from '../core/sleep.ts';
import { statePaths } from '../core/state-dir.ts';
import { targetOf } from '../providers/kubernetes/manifests.ts';
import { openProvider } from '../providers/provider.ts';

function describe(a: Action): string {
  const where =
    'target' in a && a.target ? ` ${a.target.service}${a.target.version ? `@${a.target.version}` : ''}` : '';
  const extra =
    a.action === 'inject-latency'
      ? ` +${a.delay}ms`
      : a.action === 'inject-errors'
        ? ` ${a.percent}% -> ${a.status}`
        : a.action === 'partition'
          ? ` ${a.dependency}`
          : a.action === 'kill-instance' && a.every
            ? ` every ${formatDuration(a.every)}`
            : '';
  const duration =
    'duration' in a && a.duration !== undefined
      ? ` for ${formatDuration(a.duration)}`
      : a.action === 'pause'
        ? ''
        : ' until rollback';
  return `${a.action}${where}${extra}${a.action === 'pause' ? ` ${formatDuration(a.duration)}` : duration}`;
}

export async function run(ctx: CommandContext, [file]: string[], opts: { dryRun?: boolean; env?: string }) {
  const path = resolve(ctx.cwd, file as string);
  const exp = loadExperiment(path, relative(ctx.cwd, path));
  const platform = ctx.loadPlatform();
  const provider = await openProvider(platform, opts.env);
  if (opts.dryRun) {
    const plan = exp.method.map((a) => ({ action: describe(a), supported: supports(provider, a) }));
    ctx.out.result(
      {
        title: exp.title,
        provider: provider.name,
        probes: exp.steadyState.probes.map((p) => p.name),
        workload: exp.workload,
        plan,
      },
      () =>
        [
          `${exp.title} (dry run on the ${provider.name} provider)`,
          `steady state: ${exp.steadyState.probes.map((p) => p.name).join(', ')}`,
          `workload: ${exp.workload.map((w) => `${w.kind} at ${w.rate}/s`).join(', ') || 'none'}`,
          ...plan.map(
            (p, i) =>
              `  ${i + 1}. ${p.action}${p.supported ? '' : ctx.out.style.yellow('  (not supported by this provider)')}`,
          ),
        ].join('\n'),
    );
    return plan.every((p) => p.supported) ? ExitCode.ok : ExitCode.failure;
  }
  refuseOverLeftovers(platform.root);
  const status = await provider.status();
  if (!status.running) {
    throw new PlatformError('NOT_RUNNING', 'the platform is not running', {
      hint:
        provider.name === 'local'
          ? 'start it with `platformctl up --detach`'
          : `deploy its services first: platformctl deploy <service> --env ${opts.env} --release <version>`,
    });
  }
  if (!status.gatewayUrl) {
    throw new PlatformError(
      'NO_GATEWAY_URL',
      `the experiment's probes need the gateway's URL in ${opts.env}`,
      {
        hint: 'set PLATFORMCTL_GATEWAY_URL to where the gateway answers, e.g. after kubectl port-forward svc/gateway 8080:80',
      },
    );
  }
  // Ctrl-C and SIGTERM (a CI job cancelled) both end the run through its rollback, which deletes
  // every fault it created.
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const s = ctx.out.style;
  const render = (e: JournalEntry) => {
    const mark = e.ok === false ? s.red('✗') : e.ok ? s.green('✓') : s.dim('·');
    if (ctx.json) return;
    ctx.out.info(`${s.dim(formatDuration(e.t).padStart(6))} ${mark} ${e.type.padEnd(12)} ${e.message}`);
    for (const p of e.probes ?? [])
      if (!p.ok || e.type === 'steady-state')
        ctx.out.info(`${' '.repeat(9)}${p.ok ? s.green('ok') : s.red('FAIL')}  ${p.name}: ${p.detail}`);
  };
  let journal: Awaited<ReturnType<typeof runExperiment>>;
  try {
    journal = await runExperiment(exp, {
      provider,
      gatewayUrl: status.gatewayUrl,
      root: platform.root,
      file: relative(platform.root, path),
      signal: controller.signal,
      onEvent: render,
    });
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  const files = writeJournal(statePaths(platform.root).reports, journal);
  ctx.out.result({ ...journal, files }, () => {
    const colour = journal.verdict === 'passed' ? s.green : s.red;
    return `${colour(journal.verdict.toUpperCase())}: ${journal.reason}\njournal: ${files.markdown}`;
  });
  const codes: Record<typeof journal.verdict, ExitCode> = {
    passed: ExitCode.ok,
    deviated: ExitCode.deviated,
    aborted: ExitCode.deviated,
    'not-steady': ExitCode.failure,
    interrupted: ExitCode.interrupted,
    error: ExitCode.failure,
  };
  return codes[journal.verdict];
}

/**
 * One experiment at a time, and never on top of faults a dead run left behind: its steady state
 * would be measured against them (a lapsed lease or a fault that died with the run is no obstacle).
 */
function refuseOverLeftovers(root: string): void {
  const active = readActive(root);
  if (!active) return;
  if (isAlive(active.pid)) {
    throw new PlatformError(
      'CHAOS_LEFTOVERS',
      `an experiment is already running (pid ${active.pid}, ${active.experiment})`,
      {
        hint: 'wait for it, or stop it with `platformctl chaos stop`',
      },
    );
  }
  const left = leftovers(active);
  if (left.length === 0) {
    clearActive(root);
    return;
  }
  throw new PlatformError(
    'CHAOS_LEFTOVERS',
    `a chaos run that died (pid ${active.pid}, ${active.experiment}) left ${left.length} fault(s) in force: ${left.map((f) => f.description).join('; ')}`,
    { hint: 'undo them with `platformctl chaos stop`, then run the experiment again' },
  );
}

/**
 * `chaos stop`, the kill switch. A live run is interrupted first (it reverts its faults newest
 * first and stops its workload, as on Ctrl-C); then whatever it recorded is undone (a run killed
 * with -9 recorded its faults but cannot revert them), and every fault the provider holds is
 * removed (drills' included: this is the big red button).
 */
export async function stop(ctx: CommandContext, _args: string[], opts: { dryRun?: boolean; env?: string }) {
  const platform = ctx.loadPlatform();
  const provider = await openProvider(platform, opts.env);
  const active = readActive(platform.root);
  const runner = active && isAlive(active.pid) ? active.pid : undefined;
  const recorded = active?.faults ?? [];
  if (opts.dryRun) {
    ctx.out.result({ dryRun: true, runner: runner ?? null, faults: recorded }, () =>
      [
        runner
          ? `would interrupt the experiment running as pid ${runner} (${active?.experiment})`
          : 'no experiment running',
        ...recorded.map((f) => `would undo: ${f.description}`),
        `would remove every fault the ${provider.name} provider holds`,
      ].join('\n'),
    );
    return ExitCode.ok;
  }
  let stopped = false;
  if (runner) {
    process.kill(runner, 'SIGINT');
    await until(() => !isAlive(runner), 300, 100);
    stopped = !isAlive(runner);
    if (!stopped) ctx.out.warn(`pid ${runner} did not stop within 30s; undoing its faults from here`);
  }
  const undone: string[] = [];
  const failed: string[] = [];
  for (const f of [...recorded].reverse()) {
    if (!f.undo) continue;
    try {
      await revertUndo(f.undo, provider);
      undone.push(f.description);
    } catch (err) {
      failed.push(`${f.description}: ${(err as Error).message}`);
    }
  }
  await provider.clearFaults();
  clearActive(platform.root);
  const value = { runner: runner ?? null, runnerStopped: stopped, undone, failed, faultsCleared: true };
  ctx.out.result(value, () =>
    [
      runner
        ? `${stopped ? 'stopped' : 'could not stop'} the experiment running as pid ${runner} (its load stopped with it)`
        : 'no experiment was running',
      ...undone.map((d) => `undone: ${d}`),
      ...failed.map((d) => ctx.out.style.red(`could not undo: ${d}`)),
      `every fault the ${provider.name} provider held is removed`,
    ].join('\n'),
  );
  return failed.length > 0 ? ExitCode.failure : ExitCode.ok;
}

/**
 * The environment a Chaos Mesh workflow is rendered for: `--env`, else the one unprotected
 * Kubernetes environment. A protected one needs --allow-prod: the output is meant for
 * `kubectl apply`, and faults must never reach production by default.
 */
function chaosEnvironment(config: PlatformConfig, opts: { env?: string; allowProd?: boolean }): string {
  const kube = Object.entries(config.environments).filter(([, e]) => e.provider === 'kubernetes');
  const unprotected = kube.filter(([, e]) => !e.protected).map(([name]) => name);
  const env = opts.env ?? (unprotected.length === 1 ? unprotected[0] : undefined);
  if (!env) {
    throw new UsageError(
      unprotected.length === 0
        ? 'platform.yaml has no unprotected Kubernetes environment to run chaos in'
        : `several Kubernetes environments could be meant: ${unprotected.join(', ')}`,
      'pass --env <environment> (or --namespace <ns>)',
    );
  }
  const spec = config.environments[env];
  if (spec?.provider !== 'kubernetes') {
    throw new UsageError(
      `"${env}" is not a Kubernetes environment of platform.yaml`,
      `Kubernetes environments: ${kube.map(([n]) => n).join(', ') || '(none)'}`,
    );
  }
  if (spec.protected && !opts.allowProd) {
    throw new PlatformError('PROTECTED_ENVIRONMENT', `"${env}" is a protected environment`, {
      hint: `pass --allow-prod to render faults for ${env}`,
    });
  }
  return env;
}

export async function render(
  ctx: CommandContext,
  [file]: string[],
  opts: { namespace?: string; env?: string; allowProd?: boolean },
) {
  const path = resolve(ctx.cwd, file as string);
  const exp = loadExperiment(path, relative(ctx.cwd, path));
  const { config } = ctx.loadPlatform();
  const ports = Object.fromEntries(Object.entries(config.services).map(([n, s]) => [n, s.port]));
  const namespace = opts.namespace ?? targetOf(config, chaosEnvironment(config, opts)).namespace;
  const workflow = renderChaosMesh(exp, { namespace, ports });
  ctx.out.result(workflow, () => stringify(workflow));
}
