/** `platformctl synth`: platform.yaml → cdktf.out/stacks/<stack>/cdk.tf.json, then policy. */
import { join, relative, resolve } from 'node:path';
import { CLOUDS, type Cloud } from '../core/config/schema.ts';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, UsageError } from '../core/errors.ts';
import { renderPolicyReport } from './policy.ts';

export interface SynthFlags {
  env?: string;
  cloud?: string;
  out?: string;
  policy?: boolean;
}

/** `--env a,b` / `all` → names (empty = all). */
export function parseEnvs(value: string | undefined): string[] {
  if (!value || value === 'all') return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `--cloud aws,gcp` / `all` → clouds (empty = each environment's own). */
export function parseClouds(value: string | undefined): Cloud[] {
  if (!value) return [];
  if (value === 'all') return [...CLOUDS];
  const clouds = value.split(',').map((s) => s.trim());
  for (const c of clouds) {
    if (!(CLOUDS as readonly string[]).includes(c))
      throw new UsageError(
        `--cloud must be aws, azure, gcp or all (got "${c}")`,
        'e.g. --cloud aws or --cloud all',
      );
  }
  return clouds as Cloud[];
}

/** The output directory: --out from the working directory, else cdktf.out beside platform.yaml. */
export function outDir(ctx: CommandContext, out: string | undefined, root: string): string {
  return out ? resolve(ctx.cwd, out) : join(root, 'cdktf.out');
}

export async function synth(ctx: CommandContext, _args: string[], opts: SynthFlags): Promise<ExitCode> {
  const { config, root } = ctx.loadPlatform();
  const envs = parseEnvs(opts.env);
  const clouds = parseClouds(opts.cloud);
  const outdir = outDir(ctx, opts.out, root);
  if (!config.owner)
    ctx.out.warn('platform.yaml has no owner: resources get the tag owner=unassigned (add `owner:`)');
  const started = performance.now();
  const progress = await ctx.out.progress('synthesizing stacks');
  let result: import('../stacks/synth.ts').SynthResult;
  let lastGroup = '';
  try {
    // CDKTF loads only here, so every other command starts without it.
    const { synthesize } = await import('../stacks/synth.ts');
    result = synthesize(config, {
      envs,
      clouds,
      outdir,
      // One progress line per environment and cloud, not per stack (CI logs stay short).
      onStack: (spec) => {
        const group = `${spec.env} on ${spec.cloud}`;
        if (group !== lastGroup) progress.update(`synthesizing ${group}`);
        lastGroup = group;
      },
    });
  } catch (err) {
    progress.fail('synthesis failed');
    throw err;
  }
  const ms = Math.round(performance.now() - started);
  const resources = result.stacks.reduce((n, s) => n + s.resources, 0);
  const shown = relative(ctx.cwd, outdir) || '.';
  progress.succeed(
    `synthesized ${result.stacks.length} stacks (${resources} resources) into ${shown} in ${ms} ms`,
  );

  let policy: import('../policy/engine.ts').PolicyReport | undefined;
  if (opts.policy !== false) {
    const { loadRules, readStacks, report } = await import('../policy/engine.ts');
    policy = report(readStacks(outdir), loadRules(root));
  }
  ctx.out.result(
    {
      outdir,
      stacks: result.stacks.map(({ file, ...s }) => ({ ...s, file: join(outdir, file) })),
      totals: { stacks: result.stacks.length, resources },
      ...(policy ? { policy } : {}),
    },
    () => {
      const table = ctx.out.table(
        ['STACK', 'ENV', 'CLOUD', 'REGION', 'ROLE', 'RESOURCES'],
        result.stacks.map((s) => [s.name, s.env, s.cloud, s.region, s.role, s.resources]),
      );
      return policy ? `${table}\n\n${renderPolicyReport(ctx, policy)}` : table;
    },
  );
  return policy && policy.errors > 0 ? ExitCode.policyViolation : ExitCode.ok;
}
