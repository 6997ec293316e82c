/**
 * Builds the tracker `incident file-actions` files into, from flags over platform.yaml's
 * `incidents` section over the environment. Tokens come from the environment only (never flags),
 * and a missing one is a usage error naming the variable.
 */
import type { IncidentsSpec } from '../core/config/schema.ts';
import { PlatformError, UsageError } from '../core/errors.ts';
import type { Tracker } from './tracker.ts';

/** Flags that override platform.yaml. */
export interface TrackerFlags {
  tracker?: string;
  repo?: string;
  project?: string;
}

/** Opens the configured tracker; the SDKs load only here, when a command files something. */
export async function openTracker(
  spec: IncidentsSpec | undefined,
  flags: TrackerFlags,
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<Tracker> {
  const kind = flags.tracker ?? spec?.tracker;
  if (kind !== 'github' && kind !== 'jira')
    throw new UsageError(
      kind ? `--tracker must be github or jira (got "${kind}")` : 'no issue tracker configured',
      'pass --tracker github|jira, or set incidents.tracker in platform.yaml',
      'TRACKER_UNKNOWN',
    );
  if (kind === 'github') {
    const [{ githubFromEnv, resolveRepo }, { GitHubIssuesTracker }] = await Promise.all([
      import('../providers/github.ts'),
      import('./trackers/github-issues.ts'),
    ]);
    return new GitHubIssuesTracker(
      githubFromEnv(env),
      resolveRepo(flags.repo ?? spec?.github?.repo, env, cwd),
      spec?.github?.labels ?? [],
    );
  }
  const project = flags.project ?? spec?.jira?.project;
  const site = env.JIRA_SITE || spec?.jira?.site;
  if (!project || !site)
    throw new UsageError(
      `no Jira ${project ? 'site' : 'project'} configured`,
      'set incidents.jira.site and incidents.jira.project in platform.yaml (or JIRA_SITE / --project)',
      'TRACKER_UNKNOWN',
    );
  const email = env.JIRA_EMAIL;
  const apiToken = env.JIRA_API_TOKEN;
  if (!email || !apiToken)
    throw new PlatformError(
      'JIRA_TOKEN_MISSING',
      'no Jira credentials: JIRA_EMAIL and JIRA_API_TOKEN must both be set',
      {
        hint: 'export JIRA_EMAIL=<account email> JIRA_API_TOKEN=<API token> (tokens are never accepted as flags)',
      },
    );
  const { JiraIssuesTracker } = await import('./trackers/jira-issues.ts');
  return new JiraIssuesTracker({
    site,
    project,
    issueType: spec?.jira?.issueType ?? 'Task',
    email,
    apiToken,
    accounts: spec?.jira?.accounts ?? {},
  });
}
