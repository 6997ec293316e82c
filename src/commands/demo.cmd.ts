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
  const traffic = demo
    .command('traffic')
    .description(
      'Browse content through the gateway at a steady rate in the background, so canaries have traffic to measure; down stops it.',
    )
    .option('--rate <n>', 'requests per second', '30')
    .option('--duration <d>', 'stop by itself after this long', '15m')
    .option('--stop', 'stop the demo traffic that runs')
    .action(lazyAction(async () => (await import('./demo.ts')).traffic, { mutating: true }));
  examples(traffic, [
    ['traffic for a canary to measure', 'platformctl demo traffic'],
    ['stop it', 'platformctl demo traffic --stop'],
  ]);
}
