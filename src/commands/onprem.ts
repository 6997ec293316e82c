import { resolve } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { UsageError } from '../core/errors.ts';
import { renderOnprem } from '../onprem/render.ts';

export async function onpremRender(
  ctx: CommandContext,
  _args: string[],
  opts: { out: string; env: string; serverName: string },
) {
  const { config } = ctx.loadPlatform();
  if (!(opts.env in config.environments))
    throw new UsageError(
      `unknown environment "${opts.env}"`,
      `use one of: ${Object.keys(config.environments).join(', ')}`,
    );
  const dir = resolve(ctx.cwd, opts.out);
  const r = renderOnprem(config, opts.env, dir, { serverName: opts.serverName });
  ctx.out.result({ ...r, env: opts.env }, () =>
    [
      `rendered the on-prem playbook for ${config.name} (${opts.env}) into ${opts.out}/ (${r.written.length} files)`,
      ...(r.kept.length > 0 ? [`kept your ${r.kept.join(', ')}`] : []),
      'next: list your nodes in inventory/hosts.ini, replace the TLS placeholders, then',
      `  cd ${opts.out} && ansible-playbook site.yml --check --diff`,
    ].join('\n'),
  );
}
