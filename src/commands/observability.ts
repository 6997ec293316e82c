import { resolve } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, PlatformError } from '../core/errors.ts';
import { driftedArtefacts, renderArtefacts, writeArtefacts } from '../observability/render.ts';

interface RenderOptions {
  out: string;
  namespace?: string;
  check?: boolean;
}

export async function render(ctx: CommandContext, _args: string[], opts: RenderOptions) {
  const { config } = ctx.loadPlatform();
  const dir = resolve(ctx.cwd, opts.out);
  const files = renderArtefacts(config, opts.namespace);
  if (opts.check) {
    const drifted = driftedArtefacts(dir, files);
    if (drifted.length > 0) {
      throw new PlatformError(
        'OBSERVABILITY_DRIFT',
        `${drifted.length} artefact(s) in ${dir} are out of date: ${drifted.join(', ')}`,
        {
          exitCode: ExitCode.policyViolation,
          hint: 'run `platformctl observability render` and commit the result',
          details: { drifted },
        },
      );
    }
    ctx.out.result(
      { dir, upToDate: true, files: [...files.keys()] },
      () => `observability artefacts in ${dir} are up to date`,
    );
    return;
  }
  const written = writeArtefacts(dir, files);
  ctx.out.result({ dir, files: written }, () => {
    ctx.out.success(`wrote ${written.length} files to ${dir}`);
    return written.join('\n');
  });
}
