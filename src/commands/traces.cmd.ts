import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { ENV_OPTION, examples } from './help.ts';

export function registerTraces(program: Command): void {
  const traces = program
    .command('traces')
    .description(
      'Show traces from the local span store (.platform/traces): a list of recent or slow traces, or the waterfall of one.',
    )
    .option('--request-id <id>', 'the trace of this request (x-request-id), across every service')
    .option('--trace-id <id>', 'the trace with this id')
    .option('--slow <duration>', 'only traces at least this long, slowest first (e.g. 200ms)')
    .option('--service <name>', 'only traces that touch this service')
    .option('--limit <n>', 'how many traces to list (default 20)')
    .option('--env <name>', ENV_OPTION)
    .action(lazyAction(async () => (await import('./traces.ts')).traces, { diagnostic: true }));
  examples(traces, [
    ['recent traces', 'platformctl traces'],
    ['the slowest requests of the last runs', 'platformctl traces --slow 200ms --limit 5'],
    ['follow one request through every service', 'platformctl traces --request-id 5f0c…'],
    ['as JSON for scripts', 'platformctl traces --trace-id 4bf92f3577b34da6a3ce929d0e0e4736 --json'],
  ]);
}
