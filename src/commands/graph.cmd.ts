import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerGraph(program: Command): void {
  const cmd = program
    .command('graph')
    .description('Print the architecture (clouds, regions, clusters, services, data stores) as a diagram.')
    .addOption(new Option('--format <format>', 'diagram format').choices(['mermaid']).default('mermaid'))
    .addOption(new Option('--env <env>', 'environment name(s), comma-separated, or "all"').default('all'))
    .option('--cloud <cloud>', "target cloud(s) as for synth (default: each environment's own)")
    .action(lazyAction(async () => (await import('./graph.ts')).graph));
  examples(cmd, [
    ['the whole platform, for docs', 'platformctl graph > docs/architecture.mmd'],
    ['prod only, wrapped in JSON', 'platformctl graph --env prod --json'],
  ]);
}
