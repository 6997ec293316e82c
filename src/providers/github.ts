/**
 * GitHub Actions through @octokit/rest: dispatch a workflow and find the run it started, follow it,
 * fetch its logs, cancel and re-run. The token comes from GITHUB_TOKEN or GH_TOKEN only — never a
 * flag, so it cannot leak into shell history or the audit log.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Octokit } from '@octokit/rest';
import { ExitCode, PlatformError } from '../core/errors.ts';
import { sleep } from '../core/sleep.ts';

export interface Repo {
  owner: string;
  repo: string;
}

export interface RunInfo {
  id: number;
  name: string;
  title: string;
  status: string;
  conclusion: string | null;
  url: string;
  event: string;
  branch: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface JobInfo {
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  steps: { name: string; status: string; conclusion: string | null; number: number }[];
}

export interface DispatchResult {
  run: RunInfo;
  /** How the run was found: the API's run details, or correlation with the runs list. */
  foundBy: 'run-details' | 'correlation';
}

/** Builds a client from the environment; a missing token is a usage error with the fix. */
export function githubFromEnv(env: NodeJS.ProcessEnv): Octokit {
  const auth = env.GITHUB_TOKEN || env.GH_TOKEN;
  if (!auth) {
    throw new PlatformError(
      'GITHUB_TOKEN_MISSING',
      'no GitHub token: GITHUB_TOKEN and GH_TOKEN are both unset',
      {
        hint: 'export GITHUB_TOKEN=<a token with the actions:write scope> (tokens are never accepted as flags)',
      },
    );
  }
  return new Octokit({
    auth,
    baseUrl: env.GITHUB_API_URL || 'https://api.github.com',
    userAgent: 'platformctl',
    // Octokit logs every failed request on its own ("GET … - 500 with id UNKNOWN"); platformctl
    // explains failures itself (explainGitHubError), so only deprecation warnings get through.
    log: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => process.stderr.write(`warning: ${m}\n`),
      error: () => {},
    },
  });
}

/**
 * `owner/name` of a GitHub remote URL (https, ssh or scp-like `git@host:owner/name`); undefined for
 * a local path or `file://` remote, which names no GitHub repository even though it ends in
 * `dir/name.git`.
 */
export function repoFromRemote(remoteUrl: string): string | undefined {
  const scp = /^[\w.-]+@[\w.-]+:(?!\/)(.+)$/.exec(remoteUrl);
  let path: string | undefined = scp?.[1];
  if (!path) {
    if (!/^(https?|ssh|git):\/\//.test(remoteUrl)) return undefined;
    path = new URL(remoteUrl).pathname.replace(/^\//, '');
  }
  return /^([^/]+)\/([^/]+?)(?:\.git)?\/?$/.exec(path)?.slice(1, 3).join('/');
}

/** `owner/name` from --repo, GITHUB_REPOSITORY, or the origin remote URL. */
export function parseRepo(value: string | undefined, remoteUrl?: string): Repo {
  const candidate = value ?? (remoteUrl ? repoFromRemote(remoteUrl) : undefined);
  const m = candidate ? /^([\w.-]+)\/([\w.-]+)$/.exec(candidate) : null;
  if (!m) {
    throw new PlatformError(
      'GITHUB_REPO_UNKNOWN',
      value ? `--repo "${value}" is not owner/name` : 'cannot tell which GitHub repository to use',
      {
        hint: remoteUrl
          ? `the origin remote (${remoteUrl}) is not a GitHub URL: pass --repo owner/name or set GITHUB_REPOSITORY`
          : 'pass --repo owner/name or set GITHUB_REPOSITORY',
      },
    );
  }
  return { owner: m[1] as string, repo: m[2] as string };
}

/**
 * Turns what Octokit throws into an error that says what went wrong and what to do: rejected
 * tokens, missing permissions or repositories, validation failures and unreachable servers are
 * the user's environment, never "a bug in platformctl". Anything else is returned unchanged.
 */
export function explainGitHubError(err: unknown, doing: string): unknown {
  if (err instanceof PlatformError) return err;
  const e = err as { status?: number; message?: string; response?: { data?: { message?: string } } };
  const server = process.env.GITHUB_API_URL || 'https://api.github.com';
  const said = e.response?.data?.message ?? e.message ?? String(err);
  if (e.status === 401)
    return new PlatformError('GITHUB_AUTH', `GitHub rejected the token while ${doing} (401 ${said})`, {
      hint: 'check GITHUB_TOKEN / GH_TOKEN: it may be expired, revoked or for another server',
      cause: err,
    });
  if (e.status === 403 || e.status === 404)
    return new PlatformError('GITHUB_FORBIDDEN', `GitHub answered ${e.status} while ${doing}: ${said}`, {
      hint: 'check the repository name and that the token can read and write issues (scope repo or issues:write)',
      cause: err,
    });
  if (e.status === 422)
    return new PlatformError('GITHUB_INVALID', `GitHub refused the request while ${doing}: ${said}`, {
      hint: 'the details above name the field; for assignees, each must be a collaborator of the repository',
      cause: err,
    });
  // Octokit reports a network failure as a RequestError (status 500) caused by fetch's TypeError,
  // caused in turn by the system error that carries the code.
  let code: string | undefined;
  for (
    let c: unknown = err, depth = 0;
    c && depth < 5 && !code;
    c = (c as { cause?: unknown }).cause, depth++
  )
    code = (c as { code?: string }).code;
  if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|UND_ERR_\w+)$/.test(code))
    return new PlatformError(
      'GITHUB_UNREACHABLE',
      `cannot reach GitHub at ${server} while ${doing} (${code})`,
      {
        hint: 'check your network, or GITHUB_API_URL for GitHub Enterprise Server',
        cause: err,
      },
    );
  if (typeof e.status === 'number' && e.status >= 500)
    return new PlatformError('GITHUB_FAILED', `GitHub answered ${e.status} while ${doing}: ${said}`, {
      hint: 'retry in a moment; if it persists, check https://www.githubstatus.com',
      cause: err,
    });
  return err;
}

/**
 * Explains every failed request of a client (see explainGitHubError), naming the request, for
 * callers that make many different calls (pipeline, gitops promote).
 */
export function explainFailures(octokit: Octokit): Octokit {
  octokit.hook.error('request', (error, options) => {
    const sent = (error as { request?: { url?: string } }).request?.url;
    const path = sent && URL.canParse(sent) ? new URL(sent).pathname : String(options.url);
    throw explainGitHubError(error, `${options.method} ${path}`);
  });
  return octokit;
}

function originUrl(cwd: string): string | undefined {
  try {
    return execFileSync('git', ['config', '--get', 'remote.origin.url'], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The repository to talk to: the flag (or config value), else GITHUB_REPOSITORY, else the origin remote. */
export function resolveRepo(value: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Repo {
  const named = value ?? env.GITHUB_REPOSITORY;
  return parseRepo(named, named ? undefined : originUrl(cwd));
}

type RawRun = Awaited<ReturnType<Octokit['rest']['actions']['getWorkflowRun']>>['data'];

function toRun(r: RawRun): RunInfo {
  return {
    id: r.id,
    name: r.name ?? '',
    title: r.display_title,
    status: r.status ?? 'unknown',
    conclusion: r.conclusion,
    url: r.html_url,
    event: r.event,
    branch: r.head_branch,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** Only `success` is a pass: neutral, skipped, cancelled, timed out… must never look green in CI. */
export function conclusionExitCode(conclusion: string | null): ExitCode {
  return conclusion === 'success' ? ExitCode.ok : ExitCode.failure;
}

export class GitHubPipelines {
  private readonly octokit: Octokit;
  private readonly repo: Repo;

  constructor(octokit: Octokit, repo: Repo) {
    this.octokit = octokit;
    this.repo = repo;
  }

  /**
   * Dispatches `workflow` on `ref`. Asks for the run's details in the response; servers that do not
   * support that (older GHES) answer 204, and then the run is found by listing the workflow's
   * dispatch runs created since just before the call and, when `correlationInput` is given, by the
   * unique value sent in that input (the workflow's `run-name` must include it).
   */
  async dispatch(
    workflow: string,
    ref: string,
    inputs: Record<string, string>,
    opts: { correlationInput?: string; findTimeoutMs?: number; pollMs?: number } = {},
  ): Promise<DispatchResult> {
    const token = `pctl-${randomUUID().slice(0, 8)}`;
    const sentInputs = opts.correlationInput ? { ...inputs, [opts.correlationInput]: token } : inputs;
    const before = await this.listRuns(workflow, ref);
    const known = new Set(before.map((r) => r.id));
    const response = await this.octokit.request(
      'POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches',
      {
        ...this.repo,
        workflow_id: workflow,
        ref,
        inputs: sentInputs,
        return_run_details: true,
      },
    );
    const details =
      response.status === 200 ? (response.data as { workflow_run_id?: number } | undefined) : undefined;
    if (details?.workflow_run_id)
      return { run: await this.run(Number(details.workflow_run_id)), foundBy: 'run-details' };

    const deadline = Date.now() + (opts.findTimeoutMs ?? 60_000);
    while (Date.now() < deadline) {
      const fresh = (await this.listRuns(workflow, ref)).filter((r) => !known.has(r.id));
      const match = opts.correlationInput
        ? fresh.find((r) => r.title.includes(token))
        : fresh.length === 1
          ? fresh[0]
          : undefined;
      if (match) return { run: match, foundBy: 'correlation' };
      if (!opts.correlationInput && fresh.length > 1) {
        throw new PlatformError(
          'GITHUB_RUN_AMBIGUOUS',
          `${fresh.length} new runs of ${workflow} started at once; cannot tell which is ours`,
          {
            hint: 'pass --correlation-input <input> naming a workflow input that run-name includes',
          },
        );
      }
      await sleep(opts.pollMs ?? 2000);
    }
    throw new PlatformError('GITHUB_RUN_NOT_FOUND', `dispatched ${workflow} on ${ref}, but no run appeared`, {
      hint: 'check the workflow has a workflow_dispatch trigger and that the ref exists',
    });
  }

  async listRuns(workflow: string | undefined, ref?: string, limit = 20): Promise<RunInfo[]> {
    const params = { ...this.repo, per_page: limit, ...(ref ? { branch: ref } : {}) };
    const { data } = workflow
      ? await this.octokit.rest.actions.listWorkflowRuns({
          ...params,
          workflow_id: workflow,
          event: 'workflow_dispatch',
        })
      : await this.octokit.rest.actions.listWorkflowRunsForRepo(params);
    return data.workflow_runs.map((r) => toRun(r as RawRun));
  }

  async run(id: number): Promise<RunInfo> {
    const { data } = await this.octokit.rest.actions.getWorkflowRun({ ...this.repo, run_id: id });
    return toRun(data);
  }

  async jobs(id: number): Promise<JobInfo[]> {
    const { data } = await this.octokit.rest.actions.listJobsForWorkflowRun({
      ...this.repo,
      run_id: id,
      per_page: 100,
    });
    return data.jobs.map((j) => ({
      id: j.id,
      name: j.name,
      status: j.status,
      conclusion: j.conclusion,
      steps: (j.steps ?? []).map((s) => ({
        name: s.name,
        status: s.status,
        conclusion: s.conclusion,
        number: s.number,
      })),
    }));
  }

  /** Polls until the run completes, reporting every change; returns the completed run. */
  async wait(
    id: number,
    opts: {
      intervalMs: number;
      timeoutMs: number;
      onChange?: (run: RunInfo, jobs: JobInfo[]) => void;
      signal?: AbortSignal;
    },
  ): Promise<RunInfo> {
    const deadline = Date.now() + opts.timeoutMs;
    let last = '';
    for (;;) {
      const run = await this.run(id);
      const jobs = await this.jobs(id);
      const fingerprint = JSON.stringify([
        run.status,
        run.conclusion,
        jobs.map((j) => [j.status, j.conclusion, j.steps.map((s) => s.status)]),
      ]);
      if (fingerprint !== last) {
        last = fingerprint;
        opts.onChange?.(run, jobs);
      }
      if (run.status === 'completed') return run;
      if (Date.now() > deadline) {
        throw new PlatformError(
          'GITHUB_RUN_TIMEOUT',
          `run ${id} did not complete in time (status: ${run.status})`,
          {
            hint: `follow it with \`platformctl pipeline watch ${id}\` or raise --timeout`,
          },
        );
      }
      if (opts.signal?.aborted) throw new PlatformError('INTERRUPTED', 'stopped waiting', {});
      await sleep(opts.intervalMs);
    }
  }

  /** Plain-text logs of each job (GitHub redirects to a short-lived URL; fetch follows it). */
  async logs(id: number, jobName?: string): Promise<{ job: string; text: string }[]> {
    const all = await this.jobs(id);
    const jobs = all.filter((j) => !jobName || j.name === jobName);
    if (jobName && jobs.length === 0)
      throw new PlatformError('GITHUB_JOB_NOT_FOUND', `run ${id} has no job named "${jobName}"`, {
        hint: `jobs of run ${id}: ${all.map((j) => j.name).join(', ') || '(none yet)'}`,
      });
    const out: { job: string; text: string }[] = [];
    for (const job of jobs) {
      const response = await this.octokit.rest.actions.downloadJobLogsForWorkflowRun({
        ...this.repo,
        job_id: job.id,
      });
      out.push({ job: job.name, text: String(response.data) });
    }
    return out;
  }

  async cancel(id: number): Promise<void> {
    await this.octokit.rest.actions.cancelWorkflowRun({ ...this.repo, run_id: id });
  }

  async rerun(id: number, failedOnly: boolean): Promise<void> {
    if (failedOnly) await this.octokit.rest.actions.reRunWorkflowFailedJobs({ ...this.repo, run_id: id });
    else await this.octokit.rest.actions.reRunWorkflow({ ...this.repo, run_id: id });
  }
}
