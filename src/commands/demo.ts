import type { CommandContext } from '../core/context.ts';
import { PlatformError } from '../core/errors.ts';
import { type DemoResult, seedDemo } from '../providers/local/demo.ts';
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
