import { type Command, Option } from 'commander';
import { CLOUDS } from '../core/config/constants.ts';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerInit(program: Command): void {
  const cmd = program
    .command('init')
    .description('Create platform.yaml with the four runtime services and dev/staging/prod environments.')
    .option('--name <name>', 'platform name (lowercase, dashes)')
    .option('--owner <team>', 'owning team, written to platform.yaml')
    .addOption(new Option('--cloud <cloud>', 'cloud for the environments').choices(CLOUDS))
    .option('--region <region>', 'primary region, e.g. eu-west-1')
    .option('--force', 'overwrite an existing platform.yaml')
    .action(lazyAction(async () => (await import('./init.ts')).init, { mutating: true }));
  examples(cmd, [
    ['answer the questions interactively', 'platformctl init'],
    [
      'in CI, everything from flags',
      'platformctl init --no-input --name acme --owner platform --cloud aws --region eu-west-1',
    ],
  ]);
}
