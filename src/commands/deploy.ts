import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedPlatform } from '../core/config/load.ts';
import type { CommandContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { ExitCode, PlatformError, UsageError } from '../core/errors.ts';
import { sleep } from '../core/sleep.ts';
import { ensureDir, statePaths } from '../core/state-dir.ts';
import { planRollout } from '../delivery/plan.ts';
import { startRollout } from '../delivery/rollout.ts';
import { readState, runnerAlive, TERMINAL_PHASES } from '../delivery/store.ts';
import type { StrategyName, StrategyOverrides } from '../delivery/strategy.ts';
import { checkDeployTarget, checkService } from '../delivery/target.ts';
import { observedRps, trafficWarning } from '../delivery/traffic-needs.ts';
import { openDeliveryProvider, openMetricSource, prepareStrategy } from '../delivery/wiring.ts';
import { Notifier } from '../notify/webhooks.ts';
import { runningDemoTraffic } from '../providers/local/demo-traffic.ts';
import type { Provider } from '../providers/provider.ts';
import { eventLine, renderPlan } from './canary-render.ts';

/** The flags of `platformctl deploy` (the provider's options are DeployOptions in providers/provider.ts). */
interface DeployFlags {
  release: string;
  strategy?: StrategyName;
  wait?: boolean;
  stepInterval?: string;
  replicas?: string;
  env?: string;
  allowProd?: boolean;
  earlyAbort?: boolean;
  dryRun?: boolean;
}

export function strategyOverrides(opts: {
  strategy?: StrategyName;
  stepInterval?: string;
}): StrategyOverrides {
  const overrides: StrategyOverrides = {};
  if (opts.strategy) overrides.strategy = opts.strategy;
  if (opts.stepInterval !== undefined) {
    const ms = parseDuration(opts.stepInterval);
    if (ms === undefined || ms < 100) {
      throw new UsageError(
        `--step-interval "${opts.stepInterval}" is not a duration of at least 100ms`,
        'e.g. --step-interval 1s',
      );
    }
    overrides.intervalMs = ms;
  }
  return overrides;
}

/** Set for the background runner: the foreground `deploy` has already checked the traffic. */
const QUIET_TRAFFIC_CHECK = 'PLATFORMCTL_INTERNAL_TRAFFIC_CHECKED';

/** `--replicas`, validated; undefined when not given. */
export function parseReplicas(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 32) {
    throw new UsageError(`--replicas must be a whole number from 1 to 32, not "${value}"`);
  }
  return n;
}

/** Requests per second the service got over the last minute; undefined when nobody can say. */
export async function observeTraffic(
  platform: LoadedPlatform,
  service: string,
  env: NodeJS.ProcessEnv,
  environment?: string,
  opened?: Provider,
): Promise<number | undefined> {
  try {
    const provider = opened ?? (await openDeliveryProvider(platform, environment));
    const status = await provider.status();
    const versions = status.services.find((s) => s.name === service)?.versions ?? [];
    if (versions.length === 0) return undefined;
    return observedRps(await openMetricSource(platform, provider, env), service, versions);
  } catch {
    return undefined;
  }
}

export async function deploy(ctx: CommandContext, args: string[], opts: DeployFlags): Promise<ExitCode> {
  const service = args[0] as string;
  const platform = ctx.loadPlatform();
  checkService(platform, service);
  const svc = platform.config.services[service];
  const overrides = strategyOverrides(opts);
  const replicas = parseReplicas(opts.replicas) ?? svc?.replicas ?? 1;

  if (opts.dryRun) {
    const { strategy } = prepareStrategy(platform, service, overrides);
    const plan = planRollout(strategy, { replicas });
    ctx.out.result({ dryRun: true, service, release: opts.release, plan }, () =>
      renderPlan(ctx.out, service, plan),
    );
    return ExitCode.ok;
  }

  const envs = platform.config.environments;
  const envName = opts.env ?? Object.entries(envs).find(([, e]) => e.provider === 'local')?.[0];
  if (envName && envs[envName]?.protected && !opts.allowProd) {
    throw new UsageError(
      `environment "${envName}" is protected`,
      'pass --allow-prod to roll out there (--yes does not unlock it)',
      'PROTECTED_ENVIRONMENT',
    );
  }

  const existing = readState(platform.root, service);
  if (existing && !runnerAlive(existing) && !TERMINAL_PHASES.includes(existing.phase)) {
    throw new UsageError(
      existing.held
        ? `the last rollout of ${service} (${existing.release}) is held at ${existing.weight}%: ${existing.held.reason}`
        : `the last rollout of ${service} (${existing.release}, ${existing.phase}) was left unfinished: its runner (pid ${existing.pid}) is gone`,
      `finish it first: \`platformctl canary abort ${service}\` (or \`canary promote ${service} --full\`)`,
    );
  }
  if (existing && runnerAlive(existing)) {
    throw new UsageError(
      `a rollout of ${service} ${existing.release} is already running (pid ${existing.pid}, ${existing.phase})`,
      `watch it with \`platformctl canary status ${service} --watch\`, or end it with \`canary abort|promote ${service}\``,
    );
  }

  const provider = await openDeliveryProvider(platform, opts.env);
  if (provider.name !== 'local') {
    const running = (await provider.status()).services.find((s) => s.name === service)?.versions ?? [];
    if (running.length === 0)
      return installFirstRelease(ctx, provider, service, opts.release, replicas, envName);
  }
  await checkDeployTarget(platform, provider, service, opts.release);

  // Before anything starts: a rollout without the traffic its analysis needs can only run out
  // of time, so say so now rather than after the deadline.
  if (!process.env[QUIET_TRAFFIC_CHECK]) {
    const { strategy } = prepareStrategy(platform, service, overrides);
    // Demo traffic started a moment ago is not in the last minute's average yet, but it flows.
    const demo = provider.name === 'local' ? runningDemoTraffic(platform.root) : undefined;
    const observed = await observeTraffic(platform, service, ctx.env, opts.env, provider);
    const warning = trafficWarning(
      planRollout(strategy, { replicas }).traffic,
      demo?.services.includes(service) ? Math.max(observed ?? 0, demo.rate) : observed,
    );
    if (warning) {
      ctx.out.warn(warning);
      ctx.out.info(
        provider.name === 'local'
          ? 'hint: start steady traffic first with `platformctl demo traffic` (or run a load test), or lower minSampleSize in platform.yaml'
          : 'hint: send traffic first (e.g. `platformctl load run scenarios/browse-content.yaml`), or lower minSampleSize in platform.yaml',
      );
    }
  }

  if (!opts.wait) return startInBackground(ctx, service, platform.root);

  const source = await openMetricSource(platform, provider, ctx.env);
  const { strategy, conditions } = prepareStrategy(platform, service, overrides, source.customMetrics);
  const notifier = new Notifier(platform.config.notifications.webhooks, {
    onResult: (r) => {
      if (!r.ok && r.event !== 'rollout.gate')
        ctx.out.warn(`webhook "${r.hook}" (${r.event}) failed: ${r.error}`);
    },
  });

  const ac = new AbortController();
  const onSignal = () => {
    ctx.out.warn(
      ac.signal.aborted ? 'still rolling back to stable, please wait' : 'interrupted: rolling back to stable',
    );
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await startRollout({
      root: platform.root,
      service,
      release: opts.release,
      ...(opts.env ? { environment: opts.env } : {}),
      strategy,
      conditions,
      provider,
      source,
      replicas,
      notifier,
      signal: ac.signal,
      ...(opts.earlyAbort === false ? { earlyAbort: false as const } : {}),
      onEvent: (e) => {
        if (ctx.json) ctx.out.jsonLine(e);
        else ctx.out.info(eventLine(ctx.out, e));
      },
    });
    await notifier.flush(5000);
    const st = result.state;
    const summary = {
      type: 'result',
      service,
      release: st.release,
      stable: st.stable,
      phase: st.phase,
      outcome: st.outcome,
      ...(st.held ? { held: st.held } : {}),
      report: st.report,
      exitCode: result.exitCode,
    };
    if (ctx.json) ctx.out.jsonLine(summary);
    else if (st.phase === 'Promoted')
      ctx.out.print(
        `${service} ${st.release} promoted: 100% of traffic, ${st.stable} stopped\nreport: ${st.report?.markdown}`,
      );
    else if (st.held) {
      ctx.out.print(
        `${service} ${st.release} held at ${st.weight}%: ${st.held.reason}\nfinish it: platformctl canary promote|abort ${service}\nreport: ${st.report?.markdown}`,
      );
    } else {
      ctx.out.print(
        `${service} ${st.release} rolled back: ${st.outcome?.reason}\n${st.stable} serves 100%\nreport: ${st.report?.markdown}`,
      );
    }
    return result.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * The first release of a service in a cluster environment has no stable version to canary
 * against: it is installed at 100% once its rollout is ready, and the next deploy is a canary.
 */
async function installFirstRelease(
  ctx: CommandContext,
  provider: Provider,
  service: string,
  release: string,
  replicas: number,
  envName: string | undefined,
): Promise<ExitCode> {
  const st = await provider.deploy(
    service,
    { service, version: release },
    {
      replicas,
      onEvent: (e) => {
        if (!ctx.json && e.type === 'info') ctx.out.info(e.message);
      },
    },
  );
  const value = {
    type: 'result',
    service,
    release,
    phase: 'Installed',
    traffic: st.traffic,
    exitCode: ExitCode.ok,
  };
  if (ctx.json) ctx.out.jsonLine(value);
  else
    ctx.out.print(
      `${service} ${release} installed in ${envName} at 100% (its first release: nothing to canary against)\nthe next \`platformctl deploy ${service} --env ${envName} --release <version>\` is a canary`,
    );
  return ExitCode.ok;
}

/** Re-runs this command with --wait as a detached process whose output goes to a log file. */
async function startInBackground(ctx: CommandContext, service: string, root: string): Promise<ExitCode> {
  const logs = ensureDir(statePaths(root).logs);
  const logFile = join(logs, `rollout-${service}.log`);
  const fd = openSync(logFile, 'a');
  const argv = process.argv.slice(2).filter((a) => a !== '--json');
  const child = spawn(
    process.execPath,
    [...process.execArgv, process.argv[1] as string, ...argv, '--wait', '--json'],
    {
      cwd: ctx.cwd,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, CI: 'true', [QUIET_TRAFFIC_CHECK]: '1' },
    },
  );
  child.unref();
  // Return once the runner owns the state file, so `canary status` right after never shows the
  // previous rollout (bounded: a runner that fails early has logged why).
  for (let i = 0; i < 100; i++) {
    if (readState(root, service)?.pid === child.pid || child.exitCode !== null) break;
    await sleep(100);
  }
  if (child.exitCode !== null && child.exitCode !== 0) {
    throw new PlatformError(
      'ROLLOUT_START_FAILED',
      `the rollout of ${service} stopped at once (exit ${child.exitCode})`,
      {
        hint: `see ${logFile}`,
      },
    );
  }
  const value = { service, started: true, pid: child.pid, log: logFile };
  ctx.out.result(value, () => {
    ctx.out.success(`rollout of ${service} started in the background (pid ${child.pid})`);
    return `follow it:  platformctl canary status ${service} --watch\nlog:        ${logFile}`;
  });
  return ExitCode.ok;
}
