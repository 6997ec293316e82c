import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerDemo(program: Command): void {
  const demo = program
    .command('demo')
    .description(
      'Seed the running platform: a demo user, the sample media, some views; then print what to try.',
    )
    .option('--email <email>', 'demo user email', 'demo@example.com')
    .option('--views <n>', 'view events to generate', '50')
    .action(lazyAction(async () => (await import('./demo.ts')).demo, { mutating: true }));
  examples(demo, [['seed after `platformctl up --detach`', 'platformctl demo']]);
}
