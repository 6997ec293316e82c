import type { CommandContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { PlatformError, UsageError } from '../core/errors.ts';
import { type DemoResult, seedDemo } from '../providers/local/demo.ts';
import { startDemoTraffic, stopDemoTraffic } from '../providers/local/demo-traffic.ts';
import { openProvider } from '../providers/provider.ts';

/** Seeds the running platform with progress on stderr; returns what was created. */
export async function runDemo(
  ctx: CommandContext,
  opts: { email?: string; views?: string },
): Promise<DemoResult> {
  const provider = await openProvider(ctx.loadPlatform());
  const st = await provider.status();
  if (!st.running || !st.gatewayUrl) {
    throw new PlatformError('NOT_RUNNING', 'the platform is not running locally', {
      hint: 'start it first: platformctl up --detach',
    });
  }
  const views = Number(opts.views ?? 50);
  const progress = await ctx.out.progress('seeding demo data');
  try {
    const result = await seedDemo(st.gatewayUrl, {
      email: opts.email ?? 'demo@example.com',
      views: Number.isInteger(views) && views >= 0 ? Math.min(views, 10_000) : 50,
      onStep: (t) => progress.update(t),
    });
    progress.succeed(`seeded: user ${result.email}, ${result.uploads.length} uploads, ${result.views} views`);
    return result;
  } catch (err) {
    progress.fail('seeding failed');
    throw err;
  }
}

export async function demo(ctx: CommandContext, _args: string[], opts: { email?: string; views?: string }) {
  const result = await runDemo(ctx, opts);
  ctx.out.result(result, () => result.tryNext.join('\n'));
}

/** `demo traffic`: steady browsing through the gateway in the background (or `--stop`). */
export async function traffic(
  ctx: CommandContext,
  _args: string[],
  opts: { rate?: string; duration?: string; stop?: boolean },
) {
  const platform = ctx.loadRunningPlatform();
  if (opts.stop) {
    const stopped = stopDemoTraffic(platform.root);
    ctx.out.result({ stopped }, () => (stopped ? 'demo traffic stopped' : 'no demo traffic was running'));
    return;
  }
  const rate = Number(opts.rate ?? 30);
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1000)
    throw new UsageError(`--rate ${opts.rate} is not a rate from 1 to 1000 requests/s`, 'e.g. --rate 30');
  const durationMs = parseDuration(opts.duration ?? '15m');
  if (durationMs === undefined || durationMs < 1000)
    throw new UsageError(`--duration "${opts.duration}" is not a duration`, 'e.g. --duration 15m');
  const st = await (await openProvider(platform)).status();
  if (!st.running || !st.gatewayUrl) {
    throw new PlatformError('NOT_RUNNING', 'the platform is not running locally', {
      hint: 'start it first: platformctl up --detach',
    });
  }
  const { traffic: t, started } = startDemoTraffic(platform.root, {
    rate,
    durationMs,
    cli: process.argv[1] as string,
    execArgv: process.execArgv,
  });
  ctx.out.result({ ...t, started }, () =>
    [
      started
        ? `demo traffic: ${t.rate} req/s browsing content through ${st.gatewayUrl} until ${t.until.slice(11, 19)} UTC (pid ${t.pid})`
        : `demo traffic already runs: ${t.rate} req/s until ${t.until.slice(11, 19)} UTC (pid ${t.pid})`,
      `log:   ${t.log}`,
      'stop:  platformctl demo traffic --stop   (down stops it too)',
    ].join('\n'),
  );
}
