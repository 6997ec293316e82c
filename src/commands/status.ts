import type { Fault, StatsReport } from '../../runtime/contract/gateway-admin.ts';
import { MAX_STATS_WINDOW_MS, MIN_STATS_WINDOW_MS } from '../../runtime/contract/stats-window.ts';
import { type ActiveFaultView, activeFaults } from '../chaos/fault-view.ts';
import type { LoadedPlatform } from '../core/config/load.ts';
import type { CommandContext } from '../core/context.ts';
import { formatDuration, parseDuration } from '../core/duration.ts';
import { UsageError } from '../core/errors.ts';
import { sleep } from '../core/sleep.ts';
import { type TopRow, topRows } from '../observability/top-rows.ts';
import { localAdminToken, localStatus } from '../providers/local/local-status.ts';
import { openProvider, type PlatformStatus, requireLocal, selectEnvironment } from '../providers/provider.ts';
import { dependencyLines, renderStatus, serviceColor } from './local-render.ts';

const REFRESH_MS = 2000;

/** Runs `tick` every 2 s until Ctrl-C (bounded by the signal, never by a busy loop). */
async function everyRefresh(tick: () => Promise<void>): Promise<void> {
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  try {
    while (!abort.signal.aborted) {
      await tick();
      await sleep(REFRESH_MS, abort.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
}

/** Redraws `render`'s screen every 2 s on a TTY until Ctrl-C. */
function live(ctx: CommandContext, render: () => Promise<string>): Promise<void> {
  return everyRefresh(async () => {
    const text = await render();
    if (process.stdout.isTTY) ctx.out.writeOut('\u001b[2J\u001b[H');
    ctx.out.writeOut(`${text}\n`);
  });
}

/**
 * What `status` reads: a local environment's state directly (local-status.ts, no provider, so a
 * stopped platform's status loads only the state reader), any other through its provider.
 */
interface StatusSource {
  status(): Promise<PlatformStatus>;
  /** The gateway's faults in force (local platforms; on Kubernetes they are Chaos Mesh objects). */
  gatewayFaults(st: PlatformStatus): Promise<Fault[]>;
}

async function statusSource(
  platform: LoadedPlatform,
  environment: string | undefined,
): Promise<StatusSource> {
  if (selectEnvironment(platform, environment).env.provider !== 'local') {
    const provider = await openProvider(platform, environment);
    return { status: () => provider.status(), gatewayFaults: async () => [] };
  }
  return {
    status: () => localStatus(platform),
    async gatewayFaults(st) {
      if (!st.running || !st.gatewayUrl) return [];
      try {
        // The gateway client (and zod with it) is imported only when there is a gateway to ask.
        const { GatewayAdmin } = await import('../providers/local/gateway-client.ts');
        const token = await localAdminToken(platform.root);
        return await new GatewayAdmin(st.gatewayAdminUrl ?? st.gatewayUrl, token, 1500).faults();
      } catch {
        return [];
      }
    },
  };
}

export async function status(ctx: CommandContext, _args: string[], opts: { watch?: boolean; env?: string }) {
  const platform = ctx.loadRunningPlatform();
  const source = await statusSource(platform, opts.env);
  if (opts.watch && !ctx.json) {
    await live(
      ctx,
      async () =>
        `${renderStatus(ctx.out, await source.status())}\n${ctx.out.style.dim(`refreshing every ${REFRESH_MS / 1000}s — Ctrl-C to quit`)}`,
    );
    return;
  }
  if (opts.watch) {
    // JSON lines, one snapshot per refresh.
    await everyRefresh(async () => ctx.out.jsonLine(await source.status()));
    return;
  }
  const st = await source.status();
  const faults = activeFaults(platform.root, await source.gatewayFaults(st));
  ctx.out.result({ ...st, activeFaults: faults }, () =>
    [renderStatus(ctx.out, st), ...renderFaults(ctx, faults)].join('\n'),
  );
}

function renderFaults(ctx: CommandContext, faults: ActiveFaultView[]): string[] {
  if (faults.length === 0) return [];
  const s = ctx.out.style;
  return [
    '',
    s.red(`${faults.length} active fault(s) — remove them all with \`platformctl chaos stop\``),
    ctx.out.table(
      ['FAULT', 'EXPIRES', 'INJECTED BY'],
      faults.map((f) => [
        f.description,
        f.expiresInMs === undefined
          ? 'until removed'
          : `in ${Math.ceil(f.expiresInMs / 1000)}s (${f.expiresAt})`,
        f.owner ? `${f.owner.experiment} (pid ${f.owner.pid}${f.owner.alive ? '' : ', gone'})` : '-',
      ]),
    ),
  ];
}

export async function top(ctx: CommandContext, _args: string[], opts: { window?: string; env?: string }) {
  const windowMs = parseDuration(opts.window ?? '10s');
  if (windowMs === undefined || windowMs < MIN_STATS_WINDOW_MS || windowMs > MAX_STATS_WINDOW_MS)
    throw new UsageError(
      `invalid --window "${opts.window}"`,
      'the gateway keeps 1s to 5m, e.g. --window 30s',
    );
  const provider = requireLocal(
    await openProvider(ctx.loadRunningPlatform(), opts.env),
    "top (the local gateway's live statistics)",
    "on Kubernetes, watch the gateway's RED metrics in Prometheus or Grafana",
  );
  const snapshot = async () => {
    const st = await provider.status();
    if (!st.running || !st.gatewayUrl)
      return { running: st.running, windowMs, rows: [] as TopRow[], error: 'the platform is not running' };
    let stats: StatsReport;
    try {
      const { GatewayAdmin } = await import('../providers/local/gateway-client.ts');
      stats = await new GatewayAdmin(st.gatewayAdminUrl ?? st.gatewayUrl, provider.token(), 1500).stats(
        windowMs,
      );
    } catch (err) {
      return { running: true, windowMs, rows: [] as TopRow[], error: (err as Error).message };
    }
    const rows = topRows(st, stats);
    return { running: true, windowMs, rows, outages: dependencyLines(ctx.out, st.services) };
  };
  const render = (snap: Awaited<ReturnType<typeof snapshot>>) => {
    const s = ctx.out.style;
    if (snap.error) return `${s.yellow('●')} ${snap.error}`;
    return [
      ctx.out.table(
        ['SERVICE', 'VERSION', 'READY', 'WEIGHT', 'RPS', 'ERRORS', 'P50', 'P95', 'P99'],
        snap.rows.map((r) => [
          serviceColor(ctx.out, r.service)(r.service),
          r.version,
          r.instances,
          r.weight === undefined ? '-' : `${r.weight}%`,
          r.rps.toFixed(1),
          r.errorRate > 0.01
            ? s.red(`${(r.errorRate * 100).toFixed(1)}%`)
            : `${(r.errorRate * 100).toFixed(1)}%`,
          `${r.p50.toFixed(0)}ms`,
          `${r.p95.toFixed(0)}ms`,
          `${r.p99.toFixed(0)}ms`,
        ]),
      ),
      ...(snap.outages ?? []),
      s.dim(`window ${formatDuration(windowMs)} · ${new Date().toLocaleTimeString()}`),
    ].join('\n');
  };
  if (ctx.json || !process.stdout.isTTY) {
    const snap = await snapshot();
    ctx.out.result(snap, () => render(snap));
    return;
  }
  await live(ctx, async () => `${render(await snapshot())}\n${ctx.out.style.dim('Ctrl-C to quit')}`);
}
