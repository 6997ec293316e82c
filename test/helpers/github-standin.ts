/**
 * A faithful local stand-in for the GitHub REST endpoints platformctl uses (Actions; git refs,
 * contents and pulls for `gitops promote`). It checks the
 * token, records every request (method, path, query, body) for assertions, and moves each run
 * through queued -> in_progress -> completed as it is polled.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OpenApiChecker } from './openapi.ts';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

interface Run {
  id: number;
  workflow: string;
  ref: string;
  title: string;
  polls: number;
  conclusion: string;
  cancelled: boolean;
}

export interface StandinOptions {
  token: string;
  /** Answer dispatches with the run's details (200) like github.com, or 204 like older servers. */
  runDetails: boolean;
  /** The conclusion each new run (or re-run) ends with. */
  conclusions: string[];
  /** Polls of a run before it completes. */
  pollsToComplete?: number;
  /** Start an unrelated run of the same workflow at dispatch time (another person's). */
  concurrentForeignRun?: boolean;
  /** Repository files on the default branch `main` (path -> text), for the refs/contents/pulls API. */
  files?: Record<string, string>;
  /**
   * GitHub's published description: when given, every request is checked against it, and the
   * issue objects are GitHub's documented example with our values, checked as responses too.
   */
  spec?: OpenApiChecker;
  /** Logins that may be assigned issues (others are refused with 422, as GitHub does). */
  collaborators?: string[];
  /** Page size the issues listing answers with at most (to exercise Link pagination). */
  issuesPageSize?: number;
}

export interface StandinIssue {
  number: number;
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
  state: 'open' | 'closed';
}

export interface GitHubStandin {
  url: string;
  requests: RecordedRequest[];
  /** Branch -> {head commit sha, files}; pull requests opened. */
  branches: Map<string, { sha: string; files: Map<string, string> }>;
  pulls: { number: number; title: string; head: string; base: string; body: string }[];
  issues: StandinIssue[];
  /** Requests (and issue responses) that broke the published description. */
  violations: string[];
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export async function startGitHubStandin(opts: StandinOptions): Promise<GitHubStandin> {
  // ── git refs, contents and pulls: a tiny repository with branches of whole-file snapshots ──
  const sha = (text: string) => createHash('sha1').update(text).digest('hex');
  const branches = new Map<string, { sha: string; files: Map<string, string> }>();
  const mainFiles = new Map(Object.entries(opts.files ?? {}));
  branches.set('main', { sha: sha(JSON.stringify([...mainFiles])), files: mainFiles });
  const pulls: GitHubStandin['pulls'] = [];
  const byCommit = (ref: string) => branches.get(ref) ?? [...branches.values()].find((b) => b.sha === ref);
  const repoApi = (
    method: string,
    area: string,
    rest: string,
    url: URL,
    body: unknown,
    send: (status: number, data?: unknown) => void,
  ) => {
    const b = (body ?? {}) as Record<string, string>;
    if (area === 'git/ref' && method === 'GET' && rest.startsWith('heads/')) {
      const branch = branches.get(rest.slice(6));
      if (!branch) return send(404, { message: 'Not Found' });
      return send(200, { ref: `refs/${rest}`, object: { sha: branch.sha, type: 'commit' } });
    }
    if (area === 'git/refs' && method === 'POST' && !rest) {
      if (!b.ref?.startsWith('refs/heads/') || !b.sha) return send(422, { message: 'Invalid request' });
      const name = b.ref.slice(11);
      if (branches.has(name)) return send(422, { message: 'Reference already exists' });
      const from = byCommit(b.sha);
      if (!from) return send(422, { message: 'Object does not exist' });
      branches.set(name, { sha: b.sha, files: new Map(from.files) });
      return send(201, { ref: b.ref, object: { sha: b.sha, type: 'commit' } });
    }
    if (area === 'contents' && method === 'GET') {
      const branch = byCommit(url.searchParams.get('ref') ?? 'main');
      const text = branch?.files.get(rest);
      if (text === undefined) return send(404, { message: 'Not Found' });
      return send(200, {
        type: 'file',
        encoding: 'base64',
        path: rest,
        name: rest.split('/').pop(),
        sha: sha(text),
        content: Buffer.from(text).toString('base64'),
      });
    }
    if (area === 'contents' && method === 'PUT') {
      const branch = branches.get(b.branch ?? 'main');
      if (!branch) return send(404, { message: 'Branch not found' });
      const current = branch.files.get(rest);
      if (current !== undefined && b.sha !== sha(current))
        return send(409, { message: `${rest} does not match ${b.sha}` });
      if (current === undefined && b.sha) return send(422, { message: 'sha given for a new file' });
      if (!b.message || typeof b.content !== 'string')
        return send(422, { message: 'message and content are required' });
      const text = Buffer.from(b.content, 'base64').toString('utf8');
      branch.files.set(rest, text);
      branch.sha = sha(`${branch.sha}${b.message}${text}`);
      return send(current === undefined ? 201 : 200, {
        content: { path: rest, sha: sha(text) },
        commit: { sha: branch.sha, message: b.message },
      });
    }
    if (area === 'pulls' && method === 'POST' && !rest) {
      if (!b.title || !b.head || !b.base) return send(422, { message: 'title, head and base are required' });
      if (!branches.has(b.head) || !branches.has(b.base))
        return send(422, { message: 'head or base not found' });
      const pr = { number: pulls.length + 1, title: b.title, head: b.head, base: b.base, body: b.body ?? '' };
      pulls.push(pr);
      return send(201, { ...pr, html_url: `${base}/html/pull/${pr.number}`, state: 'open' });
    }
    send(404, { message: 'Not Found' });
  };
  // ── issues: list (labels/state filters, Link pagination) and create ──
  const issues: StandinIssue[] = [];
  const violations: string[] = [];
  const issueJson = (owner: string, repo: string, i: StandinIssue) => {
    const login = (name: string) => ({ ...(template.user as object), login: name });
    const json = {
      ...template,
      id: 1_000_000 + i.number,
      number: i.number,
      title: i.title,
      body: i.body,
      state: i.state,
      url: `${base}/repos/${owner}/${repo}/issues/${i.number}`,
      html_url: `${base}/html/${owner}/${repo}/issues/${i.number}`,
      labels: i.labels.map((name, n) => ({ ...((template.labels as object[])?.[0] ?? {}), id: n + 1, name })),
      assignee: i.assignees[0] ? login(i.assignees[0]) : null,
      assignees: i.assignees.map(login),
      pull_request: undefined,
    };
    return JSON.parse(JSON.stringify(json)) as Record<string, unknown>;
  };
  let template: Record<string, unknown> = {};
  const issuesApi = (
    method: string,
    owner: string,
    repo: string,
    url: URL,
    body: unknown,
    send: (status: number, data?: unknown, headers?: Record<string, string>) => void,
  ) => {
    if (method === 'POST') {
      const b = (body ?? {}) as { title?: string; body?: string; labels?: string[]; assignees?: string[] };
      if (!b.title)
        return send(422, {
          message: 'Validation Failed',
          errors: [{ field: 'title', code: 'missing_field' }],
        });
      const unknown = (b.assignees ?? []).filter((a) => !(opts.collaborators ?? []).includes(a));
      if (unknown.length)
        return send(422, {
          message: 'Validation Failed',
          errors: unknown.map((value) => ({ value, resource: 'Issue', field: 'assignees', code: 'invalid' })),
        });
      const issue: StandinIssue = {
        number: issues.length + pulls.length + 1,
        title: b.title,
        body: b.body ?? '',
        labels: b.labels ?? [],
        assignees: b.assignees ?? [],
        state: 'open',
      };
      issues.push(issue);
      const json = issueJson(owner, repo, issue);
      if (opts.spec) violations.push(...opts.spec.checkResponse('POST', url.pathname, 201, json));
      return send(201, json);
    }
    const wanted = (url.searchParams.get('labels') ?? '').split(',').filter(Boolean);
    const state = url.searchParams.get('state') ?? 'open';
    const matching = issues.filter(
      (i) => wanted.every((l) => i.labels.includes(l)) && (state === 'all' || i.state === state),
    );
    const perPage = Math.min(Number(url.searchParams.get('per_page') ?? 30), opts.issuesPageSize ?? 100);
    const page = Number(url.searchParams.get('page') ?? 1);
    const slice = matching.slice((page - 1) * perPage, page * perPage).map((i) => issueJson(owner, repo, i));
    if (opts.spec) violations.push(...opts.spec.checkResponse('GET', url.pathname, 200, slice));
    const headers: Record<string, string> = {};
    if (page * perPage < matching.length) {
      const next = new URL(url.toString().replace('http://x', base));
      next.searchParams.set('page', String(page + 1));
      headers.link = `<${next}>; rel="next"`;
    }
    return send(200, slice, headers);
  };

  const runs: Run[] = [];
  const requests: RecordedRequest[] = [];
  let nextId = 1000;
  let conclusionIndex = 0;
  const pollsToComplete = opts.pollsToComplete ?? 3;
  const nextConclusion = () =>
    opts.conclusions[Math.min(conclusionIndex++, opts.conclusions.length - 1)] ?? 'success';

  const state = (r: Run) => {
    if (r.cancelled) return { status: 'completed', conclusion: 'cancelled' };
    if (r.polls === 0) return { status: 'queued', conclusion: null };
    if (r.polls < pollsToComplete) return { status: 'in_progress', conclusion: null };
    return { status: 'completed', conclusion: r.conclusion };
  };
  let base = '';
  const runJson = (r: Run) => ({
    id: r.id,
    name: r.workflow.replace(/\.ya?ml$/, ''),
    display_title: r.title,
    event: 'workflow_dispatch',
    head_branch: r.ref,
    html_url: `${base}/html/runs/${r.id}`,
    created_at: new Date(0).toISOString(),
    updated_at: new Date(0).toISOString(),
    ...state(r),
  });
  const jobsJson = (r: Run) => {
    const s = state(r);
    return [
      {
        id: r.id * 10 + 1,
        name: 'build',
        status: s.status === 'queued' ? 'queued' : 'completed',
        conclusion: s.status === 'queued' ? null : 'success',
        steps: [{ name: 'compile', status: 'completed', conclusion: 'success', number: 1 }],
      },
      {
        id: r.id * 10 + 2,
        name: 'test',
        ...s,
        steps: [{ name: 'npm test', status: s.status, conclusion: s.conclusion, number: 1 }],
      },
    ];
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await readBody(req).catch(() => 'unparseable');
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      body,
      authorization: req.headers.authorization,
    });
    const send = (status: number, data?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(data === undefined ? '' : JSON.stringify(data));
    };
    if (url.pathname.startsWith('/_logs/')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`2026-01-01T00:00:00Z log of job ${url.pathname.slice(7)}\nall good\n`);
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (
      auth !== `token ${opts.token}` &&
      auth !== `bearer ${opts.token}` &&
      auth !== `Bearer ${opts.token}`
    ) {
      send(401, { message: 'Bad credentials' });
      return;
    }
    if (opts.spec)
      violations.push(
        ...opts.spec.checkRequest(req.method ?? '', url.pathname, Object.fromEntries(url.searchParams), body),
      );
    const issuesPath = /^\/repos\/([^/]+)\/([^/]+)\/issues$/.exec(url.pathname);
    if (issuesPath && (req.method === 'GET' || req.method === 'POST'))
      return issuesApi(req.method, issuesPath[1] as string, issuesPath[2] as string, url, body, send);
    const git = /^\/repos\/([^/]+)\/([^/]+)\/(git\/refs?|contents|pulls)(?:\/(.*))?$/.exec(url.pathname);
    if (git)
      return repoApi(req.method ?? '', git[3] as string, decodeURIComponent(git[4] ?? ''), url, body, send);
    const m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/(.*)$/.exec(url.pathname);
    if (!m) return send(404, { message: 'Not Found' });
    const rest = m[3] as string;
    let mm: RegExpExecArray | null;
    mm = req.method === 'POST' ? /^workflows\/([^/]+)\/dispatches$/.exec(rest) : null;
    if (mm) {
      const b = body as { ref?: string; inputs?: Record<string, string>; return_run_details?: boolean };
      if (!b?.ref) return send(422, { message: 'Invalid request: ref is required' });
      const title = Object.entries(b.inputs ?? {})
        .filter(([k]) => k === 'correlation_id')
        .map(([, v]) => v)
        .join(' ');
      if (opts.concurrentForeignRun)
        runs.push({
          id: nextId++,
          workflow: mm[1] as string,
          ref: b.ref,
          title: 'someone else',
          polls: 0,
          conclusion: 'success',
          cancelled: false,
        });
      const run: Run = {
        id: nextId++,
        workflow: mm[1] as string,
        ref: b.ref,
        title: `Deploy ${title}`.trim(),
        polls: 0,
        conclusion: nextConclusion(),
        cancelled: false,
      };
      runs.push(run);
      if (opts.runDetails && b.return_run_details)
        return send(200, {
          workflow_run_id: run.id,
          run_url: `${base}/repos/${m[1]}/${m[2]}/actions/runs/${run.id}`,
          html_url: `${base}/html/runs/${run.id}`,
        });
      return send(204);
    }
    mm = req.method === 'GET' ? /^workflows\/([^/]+)\/runs$/.exec(rest) : null;
    if (mm) {
      const list = runs.filter(
        (r) =>
          r.workflow === mm?.[1] &&
          (!url.searchParams.get('branch') || r.ref === url.searchParams.get('branch')),
      );
      return send(200, { total_count: list.length, workflow_runs: list.reverse().map(runJson) });
    }
    if (req.method === 'GET' && rest === 'runs')
      return send(200, { total_count: runs.length, workflow_runs: [...runs].reverse().map(runJson) });
    mm = /^runs\/(\d+)(\/[a-z-]+)?$/.exec(rest);
    if (mm) {
      const run = runs.find((r) => r.id === Number(mm?.[1]));
      if (!run) return send(404, { message: 'Not Found' });
      const action = mm[2];
      if (req.method === 'GET' && !action) {
        const json = runJson(run);
        run.polls++;
        return send(200, json);
      }
      if (req.method === 'GET' && action === '/jobs')
        return send(200, { total_count: 2, jobs: jobsJson(run) });
      if (req.method === 'POST' && action === '/cancel') {
        run.cancelled = true;
        return send(202, {});
      }
      if (req.method === 'POST' && (action === '/rerun' || action === '/rerun-failed-jobs')) {
        Object.assign(run, { polls: 0, cancelled: false, conclusion: nextConclusion() });
        return send(201, {});
      }
    }
    mm = req.method === 'GET' ? /^jobs\/(\d+)\/logs$/.exec(rest) : null;
    if (mm) return send(302, undefined, { location: `${base}/_logs/${mm[1]}` });
    send(404, { message: 'Not Found' });
  });
  if (opts.spec) template = opts.spec.example('issue');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    branches,
    pulls,
    issues,
    violations,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
