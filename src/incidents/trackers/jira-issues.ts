/**
 * Follow-ups as Jira Cloud issues (REST v3: "Search for issues using JQL enhanced search" and
 * "Create issue"). Each issue carries the follow-up label and a label made from the action item's
 * key, so one JQL search finds every follow-up filed before. Descriptions are Atlassian Document
 * Format, which v3 requires. Two calls do not justify a 38 MB client library; the requests follow
 * the published v3 description and the tests check them against jira.js's schemas generated from it.
 */
import { PlatformError } from '../../core/errors.ts';
import { type FiledIssue, FOLLOW_UP_LABEL, type FollowUp, type Tracker } from '../tracker.ts';

/** Where and as whom to file. Credentials come from the environment only. */
export interface JiraTarget {
  /** The site, e.g. `https://acme.atlassian.net`. */
  site: string;
  project: string;
  issueType: string;
  email: string;
  apiToken: string;
  /** platform.yaml owner -> Atlassian account id, for assignees. */
  accounts: Record<string, string>;
}

const keyLabel = (key: string) => `pctl-${key}`;

interface SearchPage {
  issues?: { key: string; fields?: { labels?: string[] } }[];
  nextPageToken?: string | null;
  isLast?: boolean;
}

export class JiraIssuesTracker implements Tracker {
  readonly kind = 'jira';
  readonly target: string;
  private readonly t: JiraTarget;

  constructor(target: JiraTarget) {
    this.t = { ...target, site: target.site.replace(/\/+$/, '') };
    this.target = `${this.t.site} project ${target.project}`;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.t.site}${path}`, {
        method,
        headers: {
          authorization: `Basic ${Buffer.from(`${this.t.email}:${this.t.apiToken}`).toString('base64')}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new PlatformError('JIRA_UNREACHABLE', `cannot reach Jira at ${this.t.site}`, {
        hint: 'check incidents.jira.site in platform.yaml (or JIRA_SITE) and your network',
        cause: err,
      });
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403)
      throw new PlatformError('JIRA_AUTH', `Jira refused the credentials (HTTP ${res.status})`, {
        hint: 'check JIRA_EMAIL and JIRA_API_TOKEN (an API token of that account with access to the project)',
      });
    if (!res.ok) {
      let detail = text.slice(0, 300);
      try {
        const e = JSON.parse(text) as { errorMessages?: string[]; errors?: Record<string, string> };
        detail = [
          ...(e.errorMessages ?? []),
          ...Object.entries(e.errors ?? {}).map(([k, v]) => `${k}: ${v}`),
        ].join('; ');
      } catch {}
      throw new PlatformError(
        'JIRA_REQUEST',
        `Jira answered HTTP ${res.status} to ${method} ${path}: ${detail}`,
        {
          hint: `check that project ${this.t.project} exists and has the issue type "${this.t.issueType}"`,
        },
      );
    }
    return JSON.parse(text) as T;
  }

  async filed(): Promise<Map<string, FiledIssue>> {
    const found = new Map<string, FiledIssue>();
    const jql = `project = "${this.t.project}" AND labels = "${FOLLOW_UP_LABEL}"`;
    let nextPageToken: string | undefined;
    do {
      const page = await this.call<SearchPage>('POST', '/rest/api/3/search/jql', {
        jql,
        fields: ['labels'],
        maxResults: 100,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      for (const issue of page.issues ?? [])
        for (const label of issue.fields?.labels ?? [])
          if (label.startsWith('pctl-')) {
            const key = label.slice(5);
            found.set(key, { key, ref: issue.key, url: `${this.t.site}/browse/${issue.key}` });
          }
      nextPageToken =
        page.isLast === false || page.nextPageToken ? (page.nextPageToken ?? undefined) : undefined;
    } while (nextPageToken);
    return found;
  }

  async create(item: FollowUp): Promise<FiledIssue> {
    const assignee = item.owners.map((o) => this.t.accounts[o]).find((a) => a !== undefined);
    const unassigned = item.owners.filter((o) => this.t.accounts[o] === undefined);
    const paragraphs = [...item.body, ...(unassigned.length ? [`Owners: ${unassigned.join(', ')}`] : [])];
    const created = await this.call<{ key: string }>('POST', '/rest/api/3/issue', {
      fields: {
        project: { key: this.t.project },
        issuetype: { name: this.t.issueType },
        summary: item.title.slice(0, 255),
        labels: [FOLLOW_UP_LABEL, keyLabel(item.key)],
        description: {
          type: 'doc',
          version: 1,
          content: paragraphs.map((text) => ({ type: 'paragraph', content: [{ type: 'text', text }] })),
        },
        ...(assignee ? { assignee: { accountId: assignee } } : {}),
      },
    });
    return { key: item.key, ref: created.key, url: `${this.t.site}/browse/${created.key}` };
  }
}
