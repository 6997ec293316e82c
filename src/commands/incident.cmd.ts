import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerIncident(program: Command): void {
  const incident = program
    .command('incident')
    .description("Incident follow-up: file a postmortem's action items in the team's tracker.");
  const file = incident
    .command('file-actions [postmortem]')
    .description(
      'File the action items of a postmortem (default: the newest drill report) as GitHub or Jira issues; items filed before are found and left alone.',
    )
    .option('--tracker <kind>', 'github or jira (default: incidents.tracker in platform.yaml)')
    .option(
      '--repo <owner/name>',
      'GitHub repository (default: incidents.github.repo, GITHUB_REPOSITORY, origin)',
    )
    .option('--project <key>', 'Jira project key (default: incidents.jira.project)')
    .option('--dry-run', 'read the tracker and show what would be filed; file nothing')
    .action(lazyAction(async () => (await import('./incident.ts')).fileActions, { mutating: true }));
  examples(file, [
    [
      'preview the follow-ups of the last drill',
      'platformctl incident file-actions --tracker github --dry-run',
    ],
    [
      'file them in Jira',
      'platformctl incident file-actions .platform/reports/drills/2026-01-05T10-00-00-000Z-bad-canary-at-50.json --tracker jira',
    ],
  ]);
}
