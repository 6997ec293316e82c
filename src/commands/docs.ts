import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import type { LoadedPlatform } from '../core/config/load.ts';
import { platformSchema } from '../core/config/schema.ts';
import { renderPlatformYaml } from '../core/config/template.ts';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, PlatformError } from '../core/errors.ts';
import { ensureDir } from '../core/state-dir.ts';
import { renderArchitecture } from '../docs/architecture.ts';
import { renderCliReference } from '../docs/cli-reference.ts';
import { renderErrorCodes } from '../docs/error-codes.ts';

/** platform.yaml if there is one, else the platform `init` would create (so the repo's docs build anywhere). */
function platformOrExample(ctx: CommandContext): { config: LoadedPlatform['config']; source: string } {
  try {
    const p = ctx.loadPlatform();
    return { config: p.config, source: relative(ctx.cwd, p.file) || 'platform.yaml' };
  } catch (err) {
    if (!(err instanceof PlatformError && err.code === 'CONFIG_NOT_FOUND')) throw err;
    const text = renderPlatformYaml({ name: 'acme', owner: 'platform', cloud: 'aws', region: 'eu-west-1' });
    return {
      config: platformSchema.parse(parse(text)),
      source: 'the example platform.yaml of `platformctl init`',
    };
  }
}

export async function docsGenerate(
  ctx: CommandContext,
  _args: string[],
  opts: { out: string; only?: string; check?: boolean },
) {
  const dir = resolve(ctx.cwd, opts.out);
  const files: { file: string; text: string }[] = [];
  const wanted = (part: string) => opts.only === undefined || opts.only === part;
  if (wanted('cli')) {
    // Imported here, not at the top: a static import of the CLI's entry from a lazily loaded command
    // made the bundler move cli.ts into a shared chunk, one more file for every command to load.
    const { buildProgram } = await import('../cli.ts');
    files.push({ file: join(dir, 'cli.md'), text: renderCliReference(buildProgram()) });
  }
  if (wanted('errors')) files.push({ file: join(dir, 'errors.md'), text: renderErrorCodes() });
  if (wanted('architecture')) {
    const { config, source } = platformOrExample(ctx);
    files.push({ file: join(dir, 'architecture.md'), text: renderArchitecture(config, source) });
  }
  const results = files.map(({ file, text }) => {
    const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    const upToDate = current === text;
    if (!opts.check && !upToDate) {
      ensureDir(dir);
      writeFileSync(file, text);
    }
    return { file: relative(ctx.cwd, file), upToDate };
  });
  const stale = results.filter((r) => !r.upToDate);
  ctx.out.result({ check: Boolean(opts.check), files: results }, () =>
    results
      .map((r) =>
        opts.check
          ? `${r.upToDate ? 'up to date' : 'OUT OF DATE'}  ${r.file}`
          : `${r.upToDate ? 'unchanged' : 'wrote'}  ${r.file}`,
      )
      .join('\n'),
  );
  if (opts.check && stale.length > 0) {
    ctx.out.warn('regenerate with `platformctl docs generate` and commit the result');
    return ExitCode.failure;
  }
}
