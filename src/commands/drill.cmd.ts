import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

const handler =
  (name: 'start' | 'hint' | 'ack' | 'note' | 'status' | 'resolve' | 'abort' | 'history' | 'list') =>
  async () =>
    (await import('./drill.ts'))[name];

export function registerDrill(program: Command): void {
  const drill = program
    .command('drill')
    .description(
      'Incident drills ("wheel of misfortune"): a hidden fault, a page, hints, and a scored postmortem.',
    );
  const start = drill
    .command('start')
    .description('Inject a hidden fault from the scenario catalogue, start the clock and page the on-call.')
    .option('--scenario <name>', 'the scenario to run (see `drill list`)')
    .option('--random', 'pick a scenario at random (the default without --scenario)')
    .option('--seed <n>', 'seed for the random pick and fault targets (repeatable drills)')
    .option('--env <name>', 'environment of platform.yaml (default: the local one)')
    .option('--dry-run', 'for the drill leader: show the scenario and its faults; inject nothing')
    .action(lazyAction(handler('start'), { mutating: true }));
  examples(start, [
    ['surprise the on-call', 'platformctl drill start --random'],
    ['rehearse one incident', 'platformctl drill start --scenario bad-canary-at-50'],
    ['check a scenario without running it', 'platformctl drill start --scenario disk-full-content --dry-run'],
  ]);
  const hint = drill
    .command('hint')
    .description('Show the next graded hint (recorded on the timeline; each costs points).')
    .action(lazyAction(handler('hint'), { mutating: true }));
  examples(hint, [['stuck? ask for a nudge', 'platformctl drill hint']]);
  const ack = drill
    .command('ack')
    .description('Acknowledge the page (time to acknowledge).')
    .action(lazyAction(handler('ack'), { mutating: true }));
  examples(ack, [['take the page', 'platformctl drill ack']]);
  const note = drill
    .command('note <text>')
    .description('Add a note to the timeline: what you saw, suspect or did.')
    .action(lazyAction(handler('note'), { mutating: true }));
  examples(note, [['record a finding', 'platformctl drill note "content 5xx only on the new version"']]);
  const status = drill
    .command('status')
    .description('The running drill: page, elapsed time, hints taken, timeline (never the cause).')
    .action(lazyAction(handler('status')));
  examples(status, [['where am I', 'platformctl drill status']]);
  const resolve = drill
    .command('resolve')
    .description(
      'Check the platform is healthy again; if so stop the clock, revert what is left, score and write the postmortem (exit 1 while still unhealthy).',
    )
    .option('--env <name>', 'environment of platform.yaml (default: the local one)')
    .option(
      '--file-actions',
      "file the postmortem's action items in the tracker (see `incident file-actions`)",
    )
    .option('--tracker <kind>', 'github or jira, with --file-actions (default: incidents.tracker)')
    .action(lazyAction(handler('resolve'), { mutating: true }));
  examples(resolve, [
    ['declare it fixed', 'platformctl drill resolve'],
    ['and file the follow-ups', 'platformctl drill resolve --file-actions --tracker github'],
  ]);
  const abort = drill
    .command('abort')
    .description('Revert every fault and end the drill without a score.')
    .option('--env <name>', 'environment of platform.yaml (default: the local one)')
    .action(lazyAction(handler('abort'), { mutating: true }));
  examples(abort, [['call it off', 'platformctl drill abort']]);
  const history = drill
    .command('history')
    .description('Past drills and trends: median time to mitigate per scenario, score trend.')
    .action(lazyAction(handler('history')));
  examples(history, [['for a retro', 'platformctl drill history --json']]);
  const list = drill
    .command('list')
    .description('The scenario catalogue (titles and severities only: the causes stay hidden).')
    .action(lazyAction(handler('list')));
  examples(list, [['what can happen', 'platformctl drill list']]);
}
