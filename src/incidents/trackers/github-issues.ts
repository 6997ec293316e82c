/**
 * Follow-ups as GitHub issues (REST: "List repository issues", "Create an issue"). Each issue
 * carries the follow-up label and, in an HTML comment of its body, the action item's key: the
 * comment survives edits of the visible text, and one paginated listing by label finds every
 * follow-up filed before, open or closed.
 */
import type { Octokit } from '@octokit/rest';
import { explainGitHubError, type Repo } from '../../providers/github.ts';
import { type FiledIssue, FOLLOW_UP_LABEL, type FollowUp, type Tracker } from '../tracker.ts';

const KEY_MARKER = /<!-- platformctl:action-item ([0-9a-f]{12}) -->/;

/** GitHub logins (optionally written `@login`); team slugs `org/team` cannot be assignees. */
function loginOf(owner: string): string | undefined {
  const m = /^@?([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))$/.exec(owner);
  return m?.[1];
}

export class GitHubIssuesTracker implements Tracker {
  readonly kind = 'github';
  readonly target: string;
  private readonly octokit: Octokit;
  private readonly repo: Repo;
  private readonly labels: string[];

  constructor(octokit: Octokit, repo: Repo, labels: string[]) {
    this.octokit = octokit;
    this.repo = repo;
    this.labels = [FOLLOW_UP_LABEL, ...labels.filter((l) => l !== FOLLOW_UP_LABEL)];
    this.target = `${repo.owner}/${repo.repo}`;
  }

  async filed(): Promise<Map<string, FiledIssue>> {
    const issues = await this.octokit
      .paginate(this.octokit.rest.issues.listForRepo, {
        ...this.repo,
        labels: FOLLOW_UP_LABEL,
        state: 'all',
        per_page: 100,
      })
      .catch((err) => {
        throw explainGitHubError(err, `listing the follow-ups of ${this.target}`);
      });
    const found = new Map<string, FiledIssue>();
    for (const issue of issues) {
      if (issue.pull_request) continue;
      const key = KEY_MARKER.exec(issue.body ?? '')?.[1];
      if (key) found.set(key, { key, ref: `#${issue.number}`, url: issue.html_url });
    }
    return found;
  }

  async create(item: FollowUp): Promise<FiledIssue> {
    const logins = item.owners.map(loginOf).filter((l): l is string => l !== undefined);
    const teams = item.owners.filter((o) => loginOf(o) === undefined);
    const body = [
      ...item.body,
      ...(teams.length ? [`Owners: ${teams.map((t) => `@${t.replace(/^@/, '')}`).join(', ')}`] : []),
      `<!-- platformctl:action-item ${item.key} -->`,
    ].join('\n\n');
    const { data } = await this.octokit.rest.issues
      .create({
        ...this.repo,
        title: item.title,
        body,
        labels: this.labels,
        ...(logins.length ? { assignees: [...new Set(logins)] } : {}),
      })
      .catch((err) => {
        throw explainGitHubError(err, `filing "${item.title}" in ${this.target}`);
      });
    return { key: item.key, ref: `#${data.number}`, url: data.html_url };
  }
}
