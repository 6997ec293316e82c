import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerObservability(program: Command): void {
  const obs = program
    .command('observability')
    .description('Generate monitoring artefacts for real clusters from platform.yaml.');
  const render = obs
    .command('render')
    .description(
      'Write Prometheus scrape config, recording rules and SLO burn-rate alerts, a Grafana dashboard and Fluent Bit config; --check reports drift instead (exit 5).',
    )
    .option('--out <dir>', 'output directory', 'observability')
    .option(
      '--namespace <ns...>',
      "namespaces Prometheus discovers pods in and Fluent Bit tails (default: every Kubernetes environment's)",
    )
    .option(
      '--runbook-base <url>',
      'absolute URL the rendered runbooks/ are served from (default: the GitHub repository, from GITHUB_REPOSITORY or the origin remote)',
    )
    .option('--check', 'do not write; exit 5 if the files on disk differ from what platform.yaml renders')
    .action(lazyAction(async () => (await import('./observability.ts')).render, { mutating: true }));
  examples(render, [
    ['render into ./observability', 'platformctl observability render'],
    ['fail CI when the committed rules are stale', 'platformctl observability render --check'],
    ['validate the result', 'promtool check rules observability/prometheus/*-rules.yml'],
  ]);
}
