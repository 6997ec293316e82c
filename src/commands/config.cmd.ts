import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('Validate and inspect platform.yaml.');
  const validate = config
    .command('validate')
    .description(
      'Validate platform.yaml (and PLATFORMCTL_* overrides); every problem is listed as file:line:column with a fix.',
    )
    .action(lazyAction(async () => (await import('./config.ts')).validate));
  examples(validate, [
    ['check the platform.yaml found from here upwards', 'platformctl config validate'],
    ['check another file, machine-readable', 'platformctl config validate --config ./other.yaml --json'],
  ]);
  const show = config
    .command('show')
    .description('Print the effective configuration: defaults, file and environment overrides merged.')
    .action(lazyAction(async () => (await import('./config.ts')).show));
  examples(show, [
    ['see the merged config as JSON', 'platformctl config show --json'],
    ['see an override take effect', 'PLATFORMCTL_SERVICES__GATEWAY__PORT=9090 platformctl config show'],
  ]);
}
