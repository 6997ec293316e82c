import type { CommandContext } from '../core/context.ts';
import { UsageError, unknownServiceError } from '../core/errors.ts';
import { openProvider } from '../providers/provider.ts';

export async function scale(
  ctx: CommandContext,
  [service, replicas]: string[],
  opts: { release?: string; dryRun?: boolean; env?: string; allowProd?: boolean },
) {
  if (!/^\d+$/.test(replicas ?? ''))
    throw new UsageError(
      `replicas must be a whole number (got "${replicas}")`,
      'e.g. platformctl scale content 3',
    );
  const platform = ctx.loadPlatform();
  const provider = await openProvider(
    platform,
    opts.env,
    opts.dryRun ? undefined : { change: 'scale services', allowProd: opts.allowProd },
  );
  if (opts.dryRun) {
    const svc = (await provider.status()).services.find((s) => s.name === service);
    if (!svc) throw unknownServiceError(platform.config.services, service as string);
    const version = opts.release ?? svc.versions[0];
    const current = svc.instances.filter((i) => i.version === version).length;
    const change = { service, version, from: current, to: Number(replicas), dryRun: true };
    ctx.out.result(
      change,
      () =>
        `would scale ${service}${version ? `@${version}` : ''} from ${current} to ${replicas} instance(s) (dry run)`,
    );
    return;
  }
  const progress = await ctx.out.progress(`scaling ${service} to ${replicas}`);
  try {
    const st = await provider.scale(service as string, Number(replicas), { version: opts.release });
    progress.succeed(
      `${service}: ${st.instances.filter((i) => i.state === 'ready').length} ready instance(s)`,
    );
    ctx.out.result(st, () =>
      st.instances.map((i) => `${i.id}  ${i.url}  ${i.version}  ${i.state}`).join('\n'),
    );
  } catch (err) {
    progress.fail(`could not scale ${service}`);
    throw err;
  }
}
