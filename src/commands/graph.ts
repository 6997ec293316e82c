/** `platformctl graph`: the architecture as Mermaid, from platform.yaml. */
import type { CommandContext } from '../core/context.ts';
import { mermaid } from '../stacks/graph.ts';
import { parseClouds, parseEnvs } from './synth.ts';

export async function graph(
  ctx: CommandContext,
  _args: string[],
  opts: { format?: string; env?: string; cloud?: string },
): Promise<void> {
  const { config } = ctx.loadPlatform();
  const diagram = mermaid(config, { envs: parseEnvs(opts.env), clouds: parseClouds(opts.cloud) });
  ctx.out.result({ format: opts.format ?? 'mermaid', diagram }, () => diagram);
}
