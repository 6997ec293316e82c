import type { CommandContext } from '../core/context.ts';

export async function validate(ctx: CommandContext) {
  const { config, file } = ctx.loadPlatform();
  const services = Object.keys(config.services);
  const environments = Object.keys(config.environments);
  ctx.out.result({ valid: true, file, services, environments }, () => {
    ctx.out.success(`${file} is valid`);
    return `${services.length} services (${services.join(', ')}), ${environments.length} environments (${environments.join(', ')})`;
  });
}

export async function show(ctx: CommandContext) {
  const { config } = ctx.loadPlatform();
  // The YAML writer only for `show`: `validate`, the everyday check, does without it.
  const { stringify } = await import('yaml');
  ctx.out.result(config, () => stringify(config));
}
