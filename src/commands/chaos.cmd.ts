import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerChaos(program: Command): void {
  const chaos = program
    .command('chaos')
    .description(
      'Run chaos experiments: steady-state hypothesis, faults, rollback, and a check that nothing acknowledged was lost.',
    );
  const run = chaos
    .command('run <experiment>')
    .description(
      "Verify the steady state, inject the method's faults, roll back, verify again and write a journal; exit 6 if the steady state deviated.",
    )
    .option('--dry-run', 'validate the file and print the plan; inject nothing')
    .option('--env <name>', 'environment of platform.yaml to run against (default: the local one)')
    .action(lazyAction(async () => (await import('./chaos.ts')).run, { mutating: true }));
  examples(run, [
    [
      'see what an experiment would do',
      'platformctl chaos run experiments/kill-analytics-under-ingest.yaml --dry-run',
    ],
    ['run it and gate CI on the verdict', 'platformctl chaos run experiments/content-latency.yaml --json'],
  ]);
  const stop = chaos
    .command('stop')
    .description(
      'Kill switch: interrupt a running experiment (it reverts its faults and stops its load), undo every fault it recorded, and remove every active gateway fault.',
    )
    .option('--dry-run', 'list what would be stopped and removed; change nothing')
    .option('--env <name>', 'environment of platform.yaml (default: the local one)')
    .action(lazyAction(async () => (await import('./chaos.ts')).stop, { mutating: true }));
  examples(stop, [['stop everything chaos is doing, now', 'platformctl chaos stop']]);
  const render = chaos
    .command('render <experiment>')
    .description("Render the experiment's method as a Chaos Mesh Workflow for a Kubernetes environment.")
    .option('--env <environment>', 'Kubernetes environment to target (default: the only unprotected one)')
    .option('--namespace <ns>', "namespace of the services (default: the environment's)")
    .option('--allow-prod', 'allow rendering faults for a protected environment')
    .action(lazyAction(async () => (await import('./chaos.ts')).render));
  examples(render, [
    [
      'apply on a cluster',
      'platformctl chaos render experiments/content-latency.yaml --env staging | kubectl apply -f -',
    ],
  ]);
}
