import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerPipeline(program: Command): void {
  const pipeline = program
    .command('pipeline')
    .description('Trigger and follow GitHub Actions runs (token from GITHUB_TOKEN or GH_TOKEN).')
    .option('--repo <owner/name>', 'repository (default: GITHUB_REPOSITORY, then the origin remote)')
    .option('--interval <duration>', 'how often to poll while waiting', '5s');
  const run = pipeline
    .command('run <workflow>')
    .description(
      'Dispatch a workflow (file name or id) and print the run it started; --wait follows it and exits with its conclusion.',
    )
    .option('--ref <ref>', 'branch or tag to run on', 'main')
    .option('-f, --field <key=value>', 'workflow input, like gh workflow run -f (repeatable)', collect, [])
    .option('--wait', 'follow the run until it completes; exit 0 only on success')
    .option('--timeout <duration>', 'give up waiting after this long', '60m')
    .option(
      '--correlation-input <name>',
      'for servers without run details: a workflow input that run-name includes',
    )
    .action(lazyAction(async () => (await import('./pipeline.ts')).run, { mutating: true }));
  examples(run, [
    ['run CI on a branch and gate on it', 'platformctl pipeline run ci.yml --ref feature/x --wait'],
    [
      'deploy with inputs',
      'platformctl pipeline run deploy.yml -f env=staging -f service=content --wait --json',
    ],
  ]);
  const status = pipeline
    .command('status <run-id>')
    .description("Show a run's status, conclusion and jobs; exit 1 if it completed without success.")
    .action(lazyAction(async () => (await import('./pipeline.ts')).status));
  examples(status, [['check a run', 'platformctl pipeline status 123456789 --json']]);
  const watch = pipeline
    .command('watch <run-id>')
    .description(
      'Follow a run until it completes, showing job and step progress; exit code mirrors its conclusion.',
    )
    .option('--timeout <duration>', 'give up waiting after this long', '60m')
    .action(lazyAction(async () => (await import('./pipeline.ts')).watch));
  examples(watch, [['follow a run started elsewhere', 'platformctl pipeline watch 123456789']]);
  const logs = pipeline
    .command('logs <run-id>')
    .description('Print the logs of every job of a run (or one job).')
    .option('--job <name>', 'only this job')
    .action(lazyAction(async () => (await import('./pipeline.ts')).logs));
  examples(logs, [['see why the tests failed', 'platformctl pipeline logs 123456789 --job test']]);
  const cancel = pipeline
    .command('cancel <run-id>')
    .description('Cancel a run.')
    .action(lazyAction(async () => (await import('./pipeline.ts')).cancel, { mutating: true }));
  examples(cancel, [['stop a run', 'platformctl pipeline cancel 123456789']]);
  const rerun = pipeline
    .command('rerun <run-id>')
    .description('Re-run a run, or only its failed jobs.')
    .option('--failed', 'only the failed jobs')
    .option('--wait', 'follow the new attempt; exit code mirrors its conclusion')
    .option('--timeout <duration>', 'give up waiting after this long', '60m')
    .action(lazyAction(async () => (await import('./pipeline.ts')).rerun, { mutating: true }));
  examples(rerun, [['retry flaky jobs', 'platformctl pipeline rerun 123456789 --failed --wait']]);
  const list = pipeline
    .command('list')
    .description('List recent runs.')
    .option('--workflow <file>', 'only dispatch runs of this workflow')
    .option('--limit <n>', 'how many', '10')
    .action(lazyAction(async () => (await import('./pipeline.ts')).list));
  examples(list, [['recent runs', 'platformctl pipeline list --limit 5']]);
}
