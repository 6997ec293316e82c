import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description(
      'Check this machine: node, terraform, kubectl and context, GitHub token, ports, disk. Exit 1 if a required check fails.',
    )
    .action(lazyAction(async () => (await import('./doctor.ts')).doctor));
  examples(cmd, [
    ['check everything', 'platformctl doctor'],
    ['gate a CI job on the required checks', 'platformctl doctor --json'],
  ]);
}
