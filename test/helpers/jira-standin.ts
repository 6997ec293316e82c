/**
 * A local stand-in for the two Jira Cloud REST v3 operations platformctl uses: "Search for issues
 * using JQL enhanced search" (POST /rest/api/3/search/jql) and "Create issue" (POST
 * /rest/api/3/issue). It follows Atlassian's published v3 description: request and response bodies
 * are checked with the zod schemas jira.js generates from that description, descriptions must be
 * Atlassian Document Format, labels may not contain spaces, and unknown projects, issue types or
 * account ids are refused with Jira's error shape. Every request and every violation is recorded.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreatedIssueSchema,
  IssueUpdateDetailsSchema,
  SearchAndReconcileRequestSchema,
  SearchAndReconcileResultsSchema,
} from 'jira.js/cloud';

export interface JiraIssue {
  id: string;
  key: string;
  summary: string;
  labels: string[];
  issueType: string;
  assignee?: string;
  description: unknown;
}

export interface JiraStandin {
  url: string;
  issues: JiraIssue[];
  requests: { method: string; path: string; body: unknown }[];
  /** Requests that broke the published description (a test asserts there are none). */
  violations: string[];
  close(): Promise<void>;
}

export interface JiraStandinOptions {
  email: string;
  apiToken: string;
  projects: Record<string, { issueTypes: string[] }>;
  accountIds?: string[];
  /** Page size the search answers with at most (to exercise nextPageToken). */
  pageSize?: number;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

/** Atlassian Document Format, as far as a plain-text description uses it. */
function adfProblems(doc: unknown): string[] {
  const d = doc as { type?: string; version?: number; content?: unknown[] };
  if (d?.type !== 'doc' || d.version !== 1 || !Array.isArray(d.content))
    return ['description must be an ADF document {type: "doc", version: 1, content: [...]}'];
  const problems: string[] = [];
  for (const block of d.content as { type?: string; content?: { type?: string; text?: unknown }[] }[]) {
    if (block.type !== 'paragraph') problems.push(`unsupported ADF block ${block.type}`);
    for (const inline of block.content ?? [])
      if (inline.type !== 'text' || typeof inline.text !== 'string' || inline.text === '')
        problems.push('a paragraph holds text nodes with non-empty text');
  }
  return problems;
}

/** The JQL the stand-in understands: `field = "value"` clauses joined by AND. */
function parseJql(jql: string): [string, string][] | undefined {
  const clauses = jql.split(/\s+AND\s+/i).map((c) => /^\s*(\w+)\s*=\s*"([^"]*)"\s*$/.exec(c));
  if (clauses.some((c) => !c)) return undefined;
  return clauses.map((c) => [c?.[1]?.toLowerCase() as string, c?.[2] as string]);
}

export async function startJiraStandin(opts: JiraStandinOptions): Promise<JiraStandin> {
  const issues: JiraIssue[] = [];
  const requests: JiraStandin['requests'] = [];
  const violations: string[] = [];
  const counters = new Map<string, number>();
  let base = '';

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, data: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(data));
    };
    const refuse = (status: number, message: string, field?: string) => {
      violations.push(`${req.method} ${url.pathname}: ${message}`);
      send(
        status,
        field
          ? { errorMessages: [], errors: { [field]: message } }
          : { errorMessages: [message], errors: {} },
      );
    };
    let body: unknown;
    try {
      body = await readJson(req);
    } catch {
      return refuse(400, 'the body is not JSON');
    }
    requests.push({ method: req.method ?? '', path: url.pathname, body });
    const expected = `Basic ${Buffer.from(`${opts.email}:${opts.apiToken}`).toString('base64')}`;
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      return res.end('Client must be authenticated to access this resource.');
    }

    if (req.method === 'POST' && url.pathname === '/rest/api/3/search/jql') {
      const parsed = SearchAndReconcileRequestSchema.safeParse(body);
      if (!parsed.success) return refuse(400, `search request: ${parsed.error.message}`);
      const clauses = parseJql(parsed.data.jql ?? '');
      if (!clauses) return refuse(400, `Error in the JQL Query: ${parsed.data.jql}`);
      const matches = issues.filter((i) =>
        clauses.every(([field, value]) =>
          field === 'project'
            ? i.key.startsWith(`${value}-`)
            : field === 'labels'
              ? i.labels.includes(value)
              : false,
        ),
      );
      const start = parsed.data.nextPageToken
        ? Number(Buffer.from(parsed.data.nextPageToken, 'base64url').toString())
        : 0;
      const size = Math.min(parsed.data.maxResults ?? 50, opts.pageSize ?? 5000);
      const page = matches.slice(start, start + size);
      const more = start + size < matches.length;
      const result = {
        issues: page.map((i) => ({
          id: i.id,
          key: i.key,
          self: `${base}/rest/api/3/issue/${i.id}`,
          fields: { labels: i.labels, summary: i.summary },
        })),
        isLast: !more,
        ...(more ? { nextPageToken: Buffer.from(String(start + size)).toString('base64url') } : {}),
      };
      const check = SearchAndReconcileResultsSchema.safeParse(result);
      if (!check.success) violations.push(`stand-in search response: ${check.error.message}`);
      return send(200, result);
    }

    if (req.method === 'POST' && url.pathname === '/rest/api/3/issue') {
      const parsed = IssueUpdateDetailsSchema.safeParse(body);
      if (!parsed.success) return refuse(400, `create request: ${parsed.error.message}`);
      const f = (parsed.data.fields ?? {}) as {
        project?: { key?: string };
        issuetype?: { name?: string };
        summary?: unknown;
        labels?: unknown;
        description?: unknown;
        assignee?: { accountId?: string };
      };
      const project = f.project?.key ? opts.projects[f.project.key] : undefined;
      if (!project) return refuse(400, 'valid project is required', 'project');
      if (!f.issuetype?.name || !project.issueTypes.includes(f.issuetype.name))
        return refuse(400, 'Specify a valid issue type', 'issuetype');
      if (typeof f.summary !== 'string' || !f.summary.trim() || f.summary.length > 255)
        return refuse(400, 'You must specify a summary of the issue (at most 255 characters).', 'summary');
      const labels = (f.labels ?? []) as unknown[];
      if (
        !Array.isArray(labels) ||
        labels.some((l) => typeof l !== 'string' || /\s/.test(l) || l.length > 255)
      )
        return refuse(400, 'Labels cannot contain spaces.', 'labels');
      const adf = f.description === undefined ? [] : adfProblems(f.description);
      if (adf.length)
        return refuse(400, `Operation value must be an Atlassian Document: ${adf.join('; ')}`, 'description');
      if (f.assignee && !(opts.accountIds ?? []).includes(f.assignee.accountId ?? ''))
        return refuse(400, `User '${f.assignee.accountId}' cannot be assigned issues.`, 'assignee');
      const n = (counters.get(f.project?.key as string) ?? 0) + 1;
      counters.set(f.project?.key as string, n);
      const issue: JiraIssue = {
        id: String(10_000 + issues.length),
        key: `${f.project?.key}-${n}`,
        summary: f.summary,
        labels: labels as string[],
        issueType: f.issuetype.name,
        assignee: f.assignee?.accountId,
        description: f.description,
      };
      issues.push(issue);
      const created = { id: issue.id, key: issue.key, self: `${base}/rest/api/3/issue/${issue.id}` };
      const check = CreatedIssueSchema.safeParse(created);
      if (!check.success) violations.push(`stand-in create response: ${check.error.message}`);
      return send(201, created);
    }
    refuse(404, `no such operation: ${req.method} ${url.pathname}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    issues,
    requests,
    violations,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
