import type { CommandContext } from '../core/context.ts';
import { buildRelease, listReleases } from '../providers/local/releases.ts';

export async function build(
  ctx: CommandContext,
  [service]: string[],
  opts: { release?: string; dryRun?: boolean },
) {
  const platform = ctx.loadPlatform();
  const progress = await ctx.out.progress(`bundling ${service}`);
  try {
    const { release, built } = await buildRelease(platform, service as string, {
      version: opts.release,
      dryRun: opts.dryRun,
    });
    progress.succeed(
      opts.dryRun && built
        ? `would build ${release.service}@${release.version} (dry run: nothing written)`
        : built
          ? `built ${release.service}@${release.version}`
          : `${release.service}@${release.version} is already built (same checksum)`,
    );
    const { dir: _dir, entryPath, ...manifest } = release;
    ctx.out.result({ ...manifest, path: entryPath, built }, () =>
      [
        `version   ${release.version}`,
        `checksum  sha256:${release.checksum}`,
        `git       ${release.gitSha}`,
        `bundle    ${entryPath}`,
      ].join('\n'),
    );
  } catch (err) {
    progress.fail(`could not build ${service}`);
    throw err;
  }
}

export async function list(ctx: CommandContext, [service]: string[]) {
  const platform = ctx.loadPlatform();
  const releases = listReleases(platform.root, service).map(({ dir: _d, entryPath: _e, ...m }) => m);
  ctx.out.result(releases, () =>
    releases.length === 0
      ? 'no releases yet — build one with `platformctl release build <service>`'
      : ctx.out.table(
          ['SERVICE', 'VERSION', 'CREATED', 'GIT', 'CHECKSUM'],
          releases.map((r) => [
            r.service,
            r.version,
            r.createdAt.slice(0, 19).replace('T', ' '),
            r.gitSha.slice(0, 8),
            r.checksum.slice(0, 12),
          ]),
        ),
  );
}
