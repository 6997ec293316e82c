import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerLoad(program: Command): void {
  const load = program
    .command('load')
    .description('Load-test the platform from a scenario file and gate CI on thresholds.');
  examples(load, [
    [
      'run a sample scenario against the local platform',
      'platformctl load run scenarios/browse-content.yaml',
    ],
    ['check a PR run against main', 'platformctl load compare main.json pr.json --tolerance 10%'],
  ]);
  const run = load
    .command('run')
    .description(
      'Run a load scenario (YAML) of HTTP requests and gRPC calls. Open model by default (arrival rate, latency from the intended send time); exits 3 when a threshold fails.',
    )
    .argument('<scenario>', 'scenario file, e.g. scenarios/browse-content.yaml')
    .option('--rate <n>', 'constant arrival rate in requests/s (switches to constant-arrival-rate)')
    .option('--duration <d>', 'test duration, e.g. 30s or 5m')
    .option('--vus <n>', 'constant virtual users, closed model (switches to ramping-vus)')
    .option(
      '--target <url>',
      'base URL (default: the scenario, else the local gateway from .platform/state.json, else http://127.0.0.1:8080)',
    )
    .option('--workers <n>', 'worker threads (default: 1 unless the rate needs more; at most the CPU count)')
    .option('--connections <n>', 'HTTP connections per worker (HTTP/2 sessions for gRPC calls)')
    .option('--pipelining <n>', 'requests pipelined per connection (1 = off)')
    .option('--html <file>', 'write a self-contained HTML report')
    .option('--out <file>', 'write per-second measurements as JSON lines')
    .option('--summary-export <file>', 'save the JSON summary (input of load compare)')
    .option('--no-thresholds', 'run without evaluating thresholds')
    .action(lazyAction(async () => (await import('./load.ts')).run));
  examples(run, [
    ['browse the local platform at the scenario rate', 'platformctl load run scenarios/browse-content.yaml'],
    [
      'gate CI: 200 req/s for 1 minute, HTML report and summary',
      'platformctl load run scenarios/ingest-events.yaml --rate 200 --duration 1m --html report.html --summary-export run.json',
    ],
    [
      'closed model with 50 users against staging',
      'platformctl load run scenarios/browse-content.yaml --vus 50 --duration 2m --target https://staging.example.com',
    ],
    [
      'drive analytics over gRPC through the gateway',
      'platformctl load run scenarios/grpc-analytics.yaml --rate 200 --duration 1m',
    ],
    [
      'machine-readable summary only',
      'platformctl load run scenarios/upload-content.yaml --json > summary.json',
    ],
  ]);
  const compare = load
    .command('compare')
    .description('Compare two run summaries; exits 3 when the candidate regressed beyond the tolerance.')
    .argument('<baseline>', 'summary of the reference run (--summary-export)')
    .argument('<candidate>', 'summary of the run under test')
    .option('--tolerance <pct>', 'allowed relative change, e.g. 10%', '10%')
    .option(
      '--metric <list>',
      'metrics to compare: p50,p90,p95,p99,avg,max,error_rate,rps',
      'p95,p99,error_rate,rps',
    )
    .action(lazyAction(async () => (await import('./load.ts')).compare));
  examples(compare, [
    ['main vs PR, 10% tolerance', 'platformctl load compare main.json pr.json'],
    ['only tail latency, 5%', 'platformctl load compare stable.json canary.json --tolerance 5% --metric p99'],
  ]);
}
