import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { ENV_OPTION, examples } from './help.ts';

/** A running platform (local by default, any environment with --env): up, down, status, logs, top, scale. */
export function registerUp(program: Command): void {
  const up = program
    .command('up')
    .argument('[services...]', 'only these services (and what they depend on); all by default')
    .description(
      'Run the platform on this machine: build releases, start every service supervised in dependency order, wait until ready.',
    )
    .option('-d, --detach', 'leave a supervisor daemon running and return once everything is ready')
    .option('--replicas <spec>', 'instances per service: a number for all, or service=n[,service=n]')
    .option('--seed', 'after start, load demo data (same as `platformctl demo`)')
    .option('--with <extras...>', 'also run extra processes: prometheus (scrapes every service)')
    .option('--timeout <duration>', 'how long to wait for readiness', '120s')
    .option('--dry-run', 'print the start plan (order, versions, ports) and start nothing')
    .option(
      '--from-source',
      'build every service from its sources instead of starting the release its last rollout left running',
    )
    .option('--env <name>', ENV_OPTION)
    .option('--allow-prod', 'allow starting services in a protected environment')
    .action(lazyAction(async () => (await import('./up.ts')).up, { mutating: true }));
  examples(up, [
    ['run everything in the foreground (Ctrl-C stops it)', 'platformctl up'],
    ['run in the background and return when ready', 'platformctl up --detach'],
    ['two content instances behind the gateway', 'platformctl up -d --replicas content=2'],
    ['with a Prometheus scraping every service', 'platformctl up -d --with prometheus'],
  ]);

  program
    .command('__supervise', { hidden: true })
    .argument('<root>', 'project directory')
    .description('internal: the detached supervisor daemon started by `up --detach`')
    .action(lazyAction(async () => (await import('./up.ts')).supervise));

  const down = program
    .command('down')
    .description('Stop every local service and the supervisor; no process or port is left behind.')
    .option('--purge', 'also delete local data, logs and traces (asks first; --yes to skip)')
    .option('--dry-run', 'print what would be stopped (and deleted) and change nothing')
    .option('--env <name>', ENV_OPTION)
    .option('--allow-prod', 'allow stopping the services of a protected environment')
    .action(lazyAction(async () => (await import('./up.ts')).down, { mutating: true }));
  examples(down, [
    ['stop everything, keep data', 'platformctl down'],
    ['stop and wipe data, without a prompt', 'platformctl down --purge --yes'],
  ]);

  const status = program
    .command('status')
    .description(
      'Services, versions, instances (pid, port, state, restarts, uptime), health and RED metrics.',
    )
    .option('-w, --watch', 'refresh every 2 seconds until Ctrl-C')
    .option('--env <name>', ENV_OPTION)
    .action(lazyAction(async () => (await import('./status.ts')).status, { diagnostic: true }));
  examples(status, [
    ['what is running', 'platformctl status'],
    ['machine-readable', 'platformctl status --json'],
  ]);

  const logs = program
    .command('logs')
    .argument('<service>', 'service name, or "all"')
    .description('Show the JSON logs of a service, pretty-printed and filtered.')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .option('--since <duration>', 'only lines newer than this, e.g. 10m')
    .option('--level <level>', 'minimum level: trace, debug, info, warn, error, fatal')
    .option(
      '--request-id <id>',
      'only lines of this request (x-request-id); use with "all" to follow it across services',
    )
    .option('--trace-id <id>', 'only lines of this trace (see `platformctl traces`), bus consumers included')
    .option('--instance <id>', 'only this instance, e.g. content-2')
    .option('-n, --tail <n>', 'last n lines per instance')
    .option('--env <name>', ENV_OPTION)
    .action(lazyAction(async () => (await import('./logs.ts')).logs, { diagnostic: true }));
  examples(logs, [
    [
      'warnings and errors of content in the last 10 minutes',
      'platformctl logs content --since 10m --level warn',
    ],
    ['one request across every service', 'platformctl logs all --request-id 7f3c2a'],
    ['one trace, including the bus consumers it reached', 'platformctl logs all --trace-id 4bf92f35…'],
    ['follow the gateway', 'platformctl logs gateway -f'],
    ['warnings of web on the staging cluster', 'platformctl logs web --env staging --level warn'],
  ]);

  const top = program
    .command('top')
    .description('Live RED metrics (rate, errors, duration) per service and version, from the gateway.')
    .option('--window <duration>', 'sliding window of the statistics', '10s')
    .option('--env <name>', ENV_OPTION)
    .action(lazyAction(async () => (await import('./status.ts')).top, { diagnostic: true }));
  examples(top, [
    ['watch traffic live (refreshes every 2 s)', 'platformctl top'],
    ['one snapshot as JSON', 'platformctl top --json'],
  ]);

  const scale = program
    .command('scale')
    .argument('<service>', 'service to scale')
    .argument('<replicas>', 'number of instances (0–32)')
    .description('Set the number of instances of a running service; the gateway balances across them.')
    .option('--release <version>', 'scale this release version (default: the stable one)')
    .option('--dry-run', 'print the change and make none')
    .option('--env <name>', ENV_OPTION)
    .option('--allow-prod', 'allow scaling in a protected environment')
    .action(lazyAction(async () => (await import('./scale.ts')).scale, { mutating: true }));
  examples(scale, [['three content instances', 'platformctl scale content 3']]);
}
