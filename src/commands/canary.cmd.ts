import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerCanary(program: Command): void {
  const canary = program
    .command('canary')
    .description('Watch and steer a rollout started by `platformctl deploy`, from any terminal.');

  const status = canary
    .command('status')
    .description(
      'Phase, steps, weights and the latest metric verdicts of a rollout (all rollouts without a service).',
    )
    .argument('[service]', 'service from platform.yaml')
    .option('-w, --watch', 'redraw live until the rollout ends (JSON lines of decisions with --json)')
    .action(lazyAction(async () => (await import('./canary.ts')).status, { diagnostic: true }));
  examples(status, [
    ['where is the content rollout?', 'platformctl canary status content'],
    ['follow it live', 'platformctl canary status content --watch'],
  ]);

  const promote = canary
    .command('promote')
    .description('Skip the current step (or, with --full, every remaining step) of a running rollout.')
    .argument('<service>')
    .option('--full', 'go straight to 100% and stop the old version')
    .option('--dry-run', 'say what would happen and change nothing')
    .option(
      '--env <name>',
      'environment the rollout runs in, for a runner that is gone (default: the local one)',
    )
    .action(lazyAction(async () => (await import('./canary.ts')).promote, { mutating: true }));
  examples(promote, [
    ['continue past a pause or an inconclusive analysis', 'platformctl canary promote content'],
    ['finish now', 'platformctl canary promote content --full'],
  ]);

  const abort = canary
    .command('abort')
    .description('Roll back: all traffic to the stable version, the new version drained and stopped.')
    .argument('<service>')
    .option('--dry-run', 'say what would happen and change nothing')
    .option(
      '--env <name>',
      'environment the rollout runs in, for a runner that is gone (default: the local one)',
    )
    .action(lazyAction(async () => (await import('./canary.ts')).abort, { mutating: true }));
  examples(abort, [['stop the content canary now', 'platformctl canary abort content']]);

  const pause = canary
    .command('pause')
    .description('Hold the rollout at its current weight until `canary resume` or `canary promote`.')
    .argument('<service>')
    .option('--dry-run', 'say what would happen and change nothing')
    .action(lazyAction(async () => (await import('./canary.ts')).pause, { mutating: true }));
  examples(pause, [['hold the content canary where it is', 'platformctl canary pause content']]);

  const resume = canary
    .command('resume')
    .description('Continue a paused (or inconclusive) rollout: the current step runs again.')
    .argument('<service>')
    .option('--dry-run', 'say what would happen and change nothing')
    .action(lazyAction(async () => (await import('./canary.ts')).resume, { mutating: true }));
  examples(resume, [['analyse again after more traffic arrived', 'platformctl canary resume content']]);

  const retry = canary
    .command('retry')
    .description('Start the last rolled-back release of a service again, from the first step.')
    .argument('<service>')
    .option('--wait', 'run it in this terminal')
    .option('--dry-run', 'say what would happen and change nothing')
    .option('--env <name>', 'environment from platform.yaml (default: the local one)')
    .action(lazyAction(async () => (await import('./canary.ts')).retry, { mutating: true }));
  examples(retry, [['try v2 again after fixing its dependency', 'platformctl canary retry content --wait']]);

  const plan = canary
    .command('plan')
    .description(
      'Before a rollout: time to full promotion and worst-case time to detect a bad release and roll back.',
    )
    .argument('<service>')
    .addOption(
      new Option('--strategy <strategy>', 'plan another strategy').choices([
        'canary',
        'bluegreen',
        'rolling',
      ]),
    )
    .option('--step-interval <duration>', 'override every analysis interval')
    .option('--replicas <n>', 'instances of the new version (rolling replaces them in batches of one)')
    .option('--env <name>', 'environment whose traffic is compared with what the analysis needs')
    .action(lazyAction(async () => (await import('./canary.ts')).plan));
  examples(plan, [
    ['how long will a content rollout take?', 'platformctl canary plan content'],
    [
      'the same with 1-second intervals, as JSON',
      'platformctl canary plan content --step-interval 1s --json',
    ],
  ]);
}
