import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerPolicy(program: Command): void {
  const policy = program
    .command('policy')
    .description('Check synthesized infrastructure against the built-in rules and policies/*.yaml.');
  const check = policy
    .command('check')
    .description(
      'Report every violation (rule, resource, stack, message, fix); exit 5 when any error-level rule fails.',
    )
    .option('--dir <dir>', 'synthesized output to check (default: cdktf.out beside platform.yaml)')
    .action(lazyAction(async () => (await import('./policy.ts')).check));
  examples(check, [
    ['check the last synth', 'platformctl policy check'],
    ['machine-readable, another directory', 'platformctl policy check --dir build/tf --json'],
  ]);
  const rules = policy
    .command('rules')
    .description('List the rules in force: built-in ones and those from policies/*.yaml.')
    .action(lazyAction(async () => (await import('./policy.ts')).rules));
  examples(rules, [['see which rules run and where they come from', 'platformctl policy rules']]);
}
