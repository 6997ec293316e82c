import { existsSync, readdirSync } from 'node:fs';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, PlatformError, UsageError } from '../core/errors.ts';
import { sleep, until } from '../core/sleep.ts';
import { planRollout } from '../delivery/plan.ts';
import { finishOrphan } from '../delivery/recover.ts';
import {
  type ControlType,
  inboxHas,
  type RolloutEvent,
  type RolloutState,
  readState,
  rolloutsDir,
  runnerAlive,
  sendCommand,
  TERMINAL_PHASES,
} from '../delivery/store.ts';
import type { StrategyName } from '../delivery/strategy.ts';
import { trafficWarning } from '../delivery/traffic-needs.ts';
import { openDeliveryProvider, prepareStrategy } from '../delivery/wiring.ts';
import { eventLine, renderPlan, renderState } from './canary-render.ts';
import { deploy, observeTraffic, parseReplicas, strategyOverrides } from './deploy.ts';

function mustRead(root: string, service: string): RolloutState {
  const st = readState(root, service);
  if (!st) {
    throw new PlatformError('NO_ROLLOUT', `no rollout of ${service} has been started here`, {
      hint: `start one with \`platformctl deploy ${service} --release <version>\``,
    });
  }
  return st;
}

export async function status(
  ctx: CommandContext,
  args: string[],
  opts: { watch?: boolean },
): Promise<ExitCode> {
  const { root } = ctx.loadPlatform();
  const service = args[0];
  if (!service) {
    const dir = rolloutsDir(root);
    const states = existsSync(dir)
      ? readdirSync(dir)
          .filter((f) => f.endsWith('.json'))
          .map((f) => readState(root, f.slice(0, -5)))
          .filter((s): s is RolloutState => s !== undefined)
      : [];
    ctx.out.result(states, () =>
      states.length
        ? ctx.out.table(
            ['service', 'stable', 'release', 'phase', 'weight', 'updated'],
            states.map((s) => [s.service, s.stable, s.release, s.phase, `${s.weight}%`, s.updatedAt]),
          )
        : 'no rollouts yet',
    );
    return ExitCode.ok;
  }
  let st = mustRead(root, service);
  if (!opts.watch) {
    ctx.out.result(st, () => renderState(ctx.out, st));
    return ExitCode.ok;
  }
  const live = ctx.out.options.liveProgress && !ctx.json;
  let seen = new Set<string>();
  const key = (e: RolloutEvent) => `${e.at}|${e.type}|${e.message}`;
  // Bounded: a rollout whose runner has gone stops the watch too.
  for (let i = 0; i < 24 * 3600; i++) {
    st = readState(root, service) ?? st;
    if (live) {
      ctx.out.writeErr('\u001b[2J\u001b[H');
      ctx.out.writeErr(
        `${renderState(ctx.out, st)}\n\n${st.events
          .slice(-8)
          .map((e) => eventLine(ctx.out, e))
          .join('\n')}\n`,
      );
    } else {
      for (const e of st.events) {
        if (seen.has(key(e))) continue;
        if (ctx.json) ctx.out.jsonLine(e);
        else ctx.out.print(eventLine(ctx.out, e));
      }
      seen = new Set(st.events.map(key));
    }
    if (TERMINAL_PHASES.includes(st.phase)) break;
    if (!runnerAlive(st)) {
      ctx.out.warn(
        `the process running this rollout (pid ${st.pid}) is gone; finish it with \`canary abort|promote ${service}\``,
      );
      return ExitCode.failure;
    }
    await sleep(1000);
  }
  if (!live && !ctx.json) ctx.out.print(renderState(ctx.out, st));
  if (ctx.json) ctx.out.jsonLine({ type: 'result', phase: st.phase, outcome: st.outcome, report: st.report });
  return st.phase === 'RolledBack' ? ExitCode.rolledBack : ExitCode.ok;
}

async function control(
  ctx: CommandContext,
  service: string,
  type: ControlType,
  opts: { full?: boolean; dryRun?: boolean; env?: string } = {},
): Promise<ExitCode> {
  const full = opts.full ?? false;
  const { root } = ctx.loadPlatform();
  const st = mustRead(root, service);
  if (TERMINAL_PHASES.includes(st.phase)) {
    throw new PlatformError(
      'ROLLOUT_ENDED',
      `the rollout of ${service} ${st.release} has already ended: ${st.phase}`,
      {
        hint:
          st.phase === 'RolledBack'
            ? `start it again with \`platformctl canary retry ${service}\``
            : undefined,
      },
    );
  }
  if (opts.dryRun) {
    const how = runnerAlive(st)
      ? `send "${type}${full ? ' --full' : ''}" to the rollout runner (pid ${st.pid})`
      : type === 'abort' || type === 'promote'
        ? `${type} directly through the provider (the runner, pid ${st.pid}, is gone)`
        : `nothing: the runner (pid ${st.pid}) is gone`;
    ctx.out.result(
      { dryRun: true, service, command: type, full, would: how, state: st },
      () => `would ${how}`,
    );
    return ExitCode.ok;
  }
  if (!runnerAlive(st)) {
    if (type === 'pause' || type === 'resume') {
      throw new PlatformError(
        'RUNNER_GONE',
        `the process running the rollout of ${service} (pid ${st.pid}) is gone`,
        {
          hint: `finish it with \`platformctl canary abort ${service}\` or \`canary promote ${service} --full\``,
        },
      );
    }
    const platform = ctx.loadPlatform();
    // The rollout's own environment unless told otherwise: the runner of a cluster rollout is
    // gone, and the local provider must not be the one asked to finish it.
    const provider = await openDeliveryProvider(platform, opts.env ?? st.environment);
    const done = await finishOrphan(root, st, provider, type === 'abort' ? 'abort' : 'promote');
    ctx.out.result(done, () => renderState(ctx.out, done));
    return ExitCode.ok;
  }
  const cmd = sendCommand(root, service, type, { full });
  // The runner takes commands every tick; wait (bounded) until it has, then show where it is.
  await until(() => !inboxHas(root, service, cmd.id), 100, 100);
  if (inboxHas(root, service, cmd.id)) {
    throw new PlatformError(
      'COMMAND_NOT_TAKEN',
      `the rollout runner (pid ${st.pid}) did not take the ${type} command within 10s`,
      {
        hint: 'it stays queued; check `platformctl canary status` in a moment',
      },
    );
  }
  await sleep(300);
  const now = readState(root, service) ?? st;
  ctx.out.result({ command: cmd, state: now }, () => {
    ctx.out.success(`${type}${full ? ' --full' : ''} sent to the rollout of ${service} (pid ${st.pid})`);
    return renderState(ctx.out, now);
  });
  return ExitCode.ok;
}

type ControlOptions = { full?: boolean; dryRun?: boolean; env?: string };
export const promote = (ctx: CommandContext, args: string[], opts: ControlOptions) =>
  control(ctx, args[0] as string, 'promote', opts);
export const abort = (ctx: CommandContext, args: string[], opts: ControlOptions) =>
  control(ctx, args[0] as string, 'abort', opts);
export const pause = (ctx: CommandContext, args: string[], opts: ControlOptions) =>
  control(ctx, args[0] as string, 'pause', opts);
export const resume = (ctx: CommandContext, args: string[], opts: ControlOptions) =>
  control(ctx, args[0] as string, 'resume', opts);

export async function retry(
  ctx: CommandContext,
  args: string[],
  opts: { wait?: boolean; dryRun?: boolean; env?: string },
): Promise<ExitCode> {
  const service = args[0] as string;
  const { root } = ctx.loadPlatform();
  const st = mustRead(root, service);
  if (st.phase !== 'RolledBack') {
    throw new UsageError(
      `the last rollout of ${service} is ${st.phase}, not rolled back`,
      runnerAlive(st) ? `use \`canary resume ${service}\` for a paused rollout` : undefined,
    );
  }
  return deploy(ctx, [service], {
    release: st.release,
    strategy: st.strategy,
    ...(opts.wait ? { wait: true } : {}),
    ...(opts.dryRun ? { dryRun: true } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
}

export async function plan(
  ctx: CommandContext,
  args: string[],
  opts: { strategy?: StrategyName; stepInterval?: string; replicas?: string; env?: string },
): Promise<ExitCode> {
  const service = args[0] as string;
  const platform = ctx.loadPlatform();
  const { strategy } = prepareStrategy(platform, service, strategyOverrides(opts));
  const replicas = parseReplicas(opts.replicas) ?? platform.config.services[service]?.replicas ?? 1;
  const result = planRollout(strategy, { replicas });
  const observed = await observeTraffic(platform, service, ctx.env as NodeJS.ProcessEnv, opts.env);
  const warning = trafficWarning(result.traffic, observed);
  if (warning) ctx.out.warn(warning);
  const value = { service, ...result, observedRps: observed ?? null, ...(warning ? { warning } : {}) };
  ctx.out.result(value, () => renderPlan(ctx.out, service, { ...result, observedRps: observed }));
  return ExitCode.ok;
}
