import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { ENV_OPTION, examples } from './help.ts';

export function registerDashboard(program: Command): void {
  const dashboard = program
    .command('dashboard')
    .description(
      'Serve a read-only web dashboard of a running platform on 127.0.0.1 (health, live RED per version, canary, chaos, analytics); needs the admin token.',
    )
    .option('--port <port>', 'port to listen on (0 = any free port)', '0')
    .option('--open', 'open the page in the default browser')
    .option('--env <name>', ENV_OPTION)
    .action(lazyAction(async () => (await import('./dashboard.ts')).dashboard, { diagnostic: true }));
  examples(dashboard, [
    ['serve on a free port and print the URL', 'platformctl dashboard'],
    ['a fixed port, opened in the browser', 'platformctl dashboard --port 9400 --open'],
    ['from a script: the URL as a JSON line', 'platformctl dashboard --json'],
  ]);
}
