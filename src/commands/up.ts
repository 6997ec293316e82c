import { saveRunningConfig } from '../core/config/running-config.ts';
import type { CommandContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { ExitCode, PlatformError, UsageError } from '../core/errors.ts';
import { confirm } from '../core/prompts.ts';
import type { DemoResult } from '../providers/local/demo.ts';
import { stopDemoTraffic } from '../providers/local/demo-traffic.ts';
import { runForeground } from '../providers/local/foreground.ts';
import type { LocalProvider } from '../providers/local/local-provider.ts';
import { clearPinned } from '../providers/local/pinned-releases.ts';
import { standbySettingsFromEnv } from '../providers/local/standby-settings.ts';
import {
  openProvider,
  type PlatformStatus,
  type Provider,
  type ProviderEvent,
  requireLocal,
  unsupportedByProvider,
} from '../providers/provider.ts';
import { renderEvent, renderLog, renderStatus } from './local-render.ts';

interface UpFlags {
  dryRun?: boolean;
  detach?: boolean;
  replicas?: string;
  seed?: boolean;
  timeout?: string;
  /** Extra processes: `prometheus`. */
  with?: string[];
  /** Build every service from its sources, forgetting the releases rollouts left running. */
  fromSource?: boolean;
  env?: string;
  allowProd?: boolean;
}

/** `--replicas 2` (every service) or `--replicas content=2,auth=3`. */
export function parseReplicas(
  spec: string | undefined,
  services: string[],
): Record<string, number> | undefined {
  if (spec === undefined) return undefined;
  if (/^\d+$/.test(spec)) return Object.fromEntries(services.map((s) => [s, Number(spec)]));
  const out: Record<string, number> = {};
  for (const part of spec.split(',')) {
    const m = /^([a-z][a-z0-9-]*)=(\d+)$/.exec(part.trim());
    if (!m)
      throw new UsageError(
        `invalid --replicas "${spec}"`,
        'use a number, or service=n[,service=n], e.g. --replicas content=2',
      );
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

function summary(ctx: CommandContext, st: PlatformStatus): string {
  const s = ctx.out.style;
  const next = st.gatewayUrl
    ? [
        '',
        `${s.bold('Gateway:')} ${st.gatewayUrl}`,
        `Try:  curl ${st.gatewayUrl}/.well-known/jwks.json`,
        '      platformctl demo            # seed a user, media and views',
        '      platformctl top             # live traffic per service',
        '      platformctl logs all -f     # every log line',
      ]
    : [];
  return [renderStatus(ctx.out, st), ...next].join('\n');
}

function crashLoopDetails(ctx: CommandContext, err: unknown): void {
  if (err instanceof PlatformError && err.code === 'CRASH_LOOP') {
    const lines = (err.details?.lastLogLines as string[] | undefined) ?? [];
    if (lines.length > 0) {
      ctx.out.info(ctx.out.style.red(`last log lines of ${String(err.details?.instance)}:`));
      for (const l of lines) ctx.out.info(`  ${l}`);
    }
  }
}

export async function up(ctx: CommandContext, services: string[], opts: UpFlags): Promise<ExitCode | void> {
  const platform = ctx.loadPlatform();
  const opened = await openProvider(
    platform,
    opts.env,
    opts.dryRun ? undefined : { change: 'start services', allowProd: opts.allowProd },
  );
  const timeoutMs = parseDuration(opts.timeout ?? '120s');
  if (timeoutMs === undefined)
    throw new UsageError(`invalid --timeout "${opts.timeout}"`, 'e.g. --timeout 90s');
  const replicas = parseReplicas(opts.replicas, Object.keys(platform.config.services));
  for (const extra of opts.with ?? []) {
    if (extra !== 'prometheus')
      throw new UsageError(`unknown --with "${extra}"`, 'supported: --with prometheus');
  }
  const onEvent = (e: ProviderEvent) => {
    const line = renderEvent(ctx.out, e);
    if (line) ctx.out.info(line);
  };
  if (opened.name !== 'local') return upElsewhere(ctx, opened, services, replicas, opts, onEvent);
  const provider = opened as LocalProvider;
  // Refused here, where the user sees it, not in the supervisor daemon that would read it.
  standbySettingsFromEnv();
  if (opts.dryRun) {
    const plan = await provider.plan({ services, replicas, dryRun: true, fromSource: opts.fromSource });
    const { state, running } = provider.current();
    const rows = plan.services
      .filter((p) => plan.run.includes(p.name))
      .map((p) => {
        const live = running && state.instances.some((i) => i.service === p.name);
        return {
          service: p.name,
          version: p.version,
          replicas: p.replicas,
          port: p.basePort,
          dependsOn: p.dependsOn,
          action: live ? 'keep (running)' : 'start',
        };
      });
    ctx.out.result({ dryRun: true, order: rows }, () =>
      [
        ctx.out.table(
          ['#', 'SERVICE', 'VERSION', 'REPLICAS', 'PORT', 'AFTER', 'ACTION'],
          rows.map((r, i) => [
            i + 1,
            r.service,
            r.version,
            r.replicas,
            r.port,
            r.dependsOn.join(',') || '-',
            r.action,
          ]),
        ),
        ctx.out.style.dim('dry run: nothing built, started or changed'),
      ].join('\n'),
    );
    return;
  }
  saveRunningConfig(platform);
  const progress = await ctx.out.progress('building releases');
  let plan: Awaited<ReturnType<LocalProvider['plan']>>;
  try {
    if (opts.fromSource) clearPinned(platform.root);
    plan = await provider.plan({ services, replicas, onEvent, fromSource: opts.fromSource });
  } catch (err) {
    progress.fail('could not build the releases');
    throw err;
  }
  const extras = opts.with ?? [];
  if (extras.includes('prometheus')) {
    const { addPrometheus } = await import('../observability/prometheus-local.ts');
    const runningPort = provider.current().state.instances.find((i) => i.service === 'prometheus')?.port;
    const url = await addPrometheus(platform, plan, runningPort);
    ctx.out.info(`prometheus: ${url} (PLATFORMCTL_PROMETHEUS_URL=${url} makes canary analysis use it)`);
  }
  const { running } = provider.current();
  if (opts.detach || running) {
    progress.update(
      running ? 'the platform is already running; reconciling' : 'starting the supervisor and services',
    );
    const before = new Set(provider.current().state.instances.map((i) => i.service));
    let st: PlatformStatus;
    try {
      st = await provider.upWithPlan(plan, { onEvent }, timeoutMs);
    } catch (err) {
      progress.fail('the platform did not come up');
      crashLoopDetails(ctx, err);
      throw err;
    }
    const started = plan.run.filter((name) => !before.has(name));
    progress.succeed(
      !running
        ? 'the platform is up'
        : started.length > 0
          ? `started ${started.join(', ')} beside the running platform`
          : 'already running — nothing to start',
    );
    let seeded: DemoResult | undefined;
    if (opts.seed) {
      seeded = await (await import('./demo.ts')).runDemo(ctx, {});
      st = await provider.status();
    }
    const final = st;
    ctx.out.result(seeded ? { ...final, demo: seeded } : final, () =>
      [summary(ctx, final), ...(seeded ? ['', ...seeded.tryNext] : [])].join('\n'),
    );
    return;
  }

  // Foreground: this process supervises; Ctrl-C stops everything cleanly.
  progress.update('starting services');
  const abort = new AbortController();
  const onSignal = () => {
    ctx.out.info(ctx.out.style.dim('stopping (Ctrl-C again to force)…'));
    if (abort.signal.aborted) process.exit(ExitCode.interrupted);
    abort.abort();
  };
  // SIGHUP too: closing the terminal must not orphan the services.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let readyStatus: PlatformStatus | undefined;
  try {
    await runForeground(provider, plan, {
      signal: abort.signal,
      onEvent,
      onLog: (e) => {
        if (ctx.json) ctx.out.jsonLine({ service: e.service, instance: e.instance, ...e.fields });
        else ctx.out.print(renderLog(ctx.out, e));
      },
      onReady: (st) => {
        readyStatus = st;
        progress.succeed('the platform is up (Ctrl-C to stop)');
        if (!ctx.json) ctx.out.info(summary(ctx, st));
        if (opts.seed) {
          void (async () => {
            const seeded = await (await import('./demo.ts')).runDemo(ctx, {});
            ctx.out.info(seeded.tryNext.join('\n'));
          })().catch((err) => ctx.out.warn(`demo seeding failed: ${(err as Error).message}`));
        }
      },
    });
  } catch (err) {
    progress.fail('the platform did not come up; stopped everything');
    crashLoopDetails(ctx, err);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  ctx.out.success('stopped every service');
  return readyStatus ? ExitCode.ok : ExitCode.interrupted;
}

/**
 * `up --env <cluster environment>`: the provider deploys every service not yet running (at its
 * `latest` release) and waits for the rollouts. The local-only flags are refused, not ignored.
 */
async function upElsewhere(
  ctx: CommandContext,
  provider: Provider,
  services: string[],
  replicas: Record<string, number> | undefined,
  opts: UpFlags,
  onEvent: (e: ProviderEvent) => void,
): Promise<void> {
  const localOnly: [string, unknown][] = [
    ['--dry-run', opts.dryRun],
    ['--detach', opts.detach],
    ['--seed', opts.seed],
    ['--with', opts.with?.length],
    ['--from-source', opts.fromSource],
  ];
  for (const [flag, given] of localOnly)
    if (given) throw unsupportedByProvider(provider.name, `up ${flag}`, `run up without ${flag}`);
  const progress = await ctx.out.progress(`starting services on ${provider.name}`);
  let st: PlatformStatus;
  try {
    st = await provider.up({ services, ...(replicas ? { replicas } : {}), onEvent });
  } catch (err) {
    progress.fail('the platform did not come up');
    throw err;
  }
  progress.succeed('the platform is up');
  ctx.out.result(st, () => renderStatus(ctx.out, st));
}

/** The hidden `__supervise` command: runs until `down` (or SIGTERM) ends the process. */
export async function supervise(_ctx: CommandContext, [root]: string[]): Promise<ExitCode | void> {
  const { runDaemon } = await import('../providers/local/daemon.ts');
  await runDaemon(root as string);
  await new Promise<never>(() => {});
}

export async function down(
  ctx: CommandContext,
  _args: string[],
  opts: { purge?: boolean; dryRun?: boolean; env?: string; allowProd?: boolean },
): Promise<ExitCode | void> {
  const opened = await openProvider(
    ctx.loadRunningPlatform(),
    opts.env,
    opts.dryRun ? undefined : { change: 'stop services', allowProd: opts.allowProd },
  );
  if (opened.name !== 'local') {
    if (opts.dryRun || opts.purge)
      throw unsupportedByProvider(opened.name, `down ${opts.dryRun ? '--dry-run' : '--purge'}`);
    // Stopping a cluster's workloads is not undone by the next `up` in a second: ask first.
    if (!(await confirm(ctx, `Delete every platformctl workload of environment "${opts.env}"?`))) {
      ctx.out.info('nothing stopped');
      return ExitCode.failure;
    }
    await opened.down({
      onEvent: (e) => {
        const line = renderEvent(ctx.out, e);
        if (line) ctx.out.info(line);
      },
    });
    ctx.out.result({ stopped: true, environment: opts.env }, () => `stopped every service of ${opts.env}`);
    return;
  }
  const provider = requireLocal(opened, 'down');
  if (opts.dryRun) {
    const { state, running } = provider.current();
    const live = state.instances.filter((i) => i.pid);
    const deletes = opts.purge ? [provider.paths.data, provider.paths.logs] : [];
    const plan = {
      dryRun: true,
      supervisor: running ? state.supervisor?.pid : undefined,
      stop: live.map((i) => i.id),
      delete: deletes,
    };
    ctx.out.result(plan, () =>
      [
        running ? `would stop the supervisor (pid ${state.supervisor?.pid})` : 'no supervisor is running',
        live.length
          ? `would stop ${live.map((i) => `${i.id} (pid ${i.pid})`).join(', ')}`
          : 'no instance is running',
        ...deletes.map((d) => `would delete ${d}`),
        ctx.out.style.dim('dry run: nothing changed'),
      ].join('\n'),
    );
    return;
  }
  if (opts.purge && !(await confirm(ctx, 'Delete all local data (databases, blobs, bus, logs)?'))) {
    ctx.out.info('nothing deleted');
    return ExitCode.failure;
  }
  stopDemoTraffic(provider.platform.root);
  const { running, orphans } = provider.current();
  const wasRunning = running || orphans.length > 0;
  const progress = await ctx.out.progress('stopping the platform');
  await provider.down({
    purge: opts.purge,
    onEvent: (e) => {
      if (e.type === 'info') ctx.out.info(e.message);
    },
  });
  progress.succeed(wasRunning ? 'stopped every service' : 'nothing was running');
  ctx.out.result({ stopped: wasRunning, purged: Boolean(opts.purge) }, () => '');
}
