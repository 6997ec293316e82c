import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerDeploy(program: Command): void {
  const cmd = program
    .command('deploy')
    .description(
      'Roll a release of a service out progressively (canary steps, blue/green or rolling), with metric analysis and automatic rollback.',
    )
    .argument('<service>', 'service from platform.yaml')
    .requiredOption('--release <version>', 'release to roll out (built with `platformctl release build`)')
    .addOption(
      new Option('--strategy <strategy>', 'override the strategy from platform.yaml').choices([
        'canary',
        'bluegreen',
        'rolling',
      ]),
    )
    .option('--wait', 'run the rollout in this terminal until promoted or rolled back (Ctrl-C rolls back)')
    .option('--step-interval <duration>', 'override every analysis interval, e.g. 1s')
    .option('--replicas <n>', 'instances of the new version (default: the service replicas)')
    .option('--env <name>', 'environment from platform.yaml (default: the local one)')
    .option('--allow-prod', 'allow a rollout to a protected environment')
    .option('--no-early-abort', 'disable the statistical early abort (z / Fisher test on error ratios)')
    .option('--dry-run', 'print the plan (steps, time to promotion, time to detect) and change nothing')
    .action(lazyAction(async () => (await import('./deploy.ts')).deploy, { mutating: true }));
  examples(cmd, [
    ['canary v2 of content and follow it here', 'platformctl deploy content --release v2 --wait'],
    [
      'the same in CI: decisions as JSON lines, exit 4 on rollback',
      'platformctl deploy content --release v2 --wait --json',
    ],
    [
      'blue/green with 1-second analysis intervals',
      'platformctl deploy content --release v2 --strategy bluegreen --step-interval 1s --wait',
    ],
    [
      'start in the background, then watch',
      'platformctl deploy content --release v2 && platformctl canary status content --watch',
    ],
  ]);
}
