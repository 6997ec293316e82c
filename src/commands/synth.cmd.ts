import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerSynth(program: Command): void {
  const cmd = program
    .command('synth')
    .description(
      'Synthesize Terraform JSON for every environment and region (CDKTF, in-process) and check it against policy.',
    )
    .addOption(new Option('--env <env>', 'environment name(s), comma-separated, or "all"').default('all'))
    .addOption(
      new Option(
        '--cloud <cloud>',
        'target cloud(s): aws, azure, gcp, comma-separated, or "all" (default: each environment\'s own cloud)',
      ),
    )
    .option('--out <dir>', 'output directory (default: cdktf.out beside platform.yaml)')
    .option('--no-policy', 'skip the policy check after synthesis')
    .action(lazyAction(async () => (await import('./synth.ts')).synth));
  examples(cmd, [
    ['synthesize every environment on its configured cloud', 'platformctl synth'],
    ['only prod, as JSON (stacks and resource counts)', 'platformctl synth --env prod --json'],
    ['every environment on all three clouds (3 x 3 matrix)', 'platformctl synth --env all --cloud all'],
    ['write elsewhere and skip policy', 'platformctl synth --out build/tf --no-policy'],
  ]);
}
