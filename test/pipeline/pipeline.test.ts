import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { repoFromRemote } from '../../src/providers/github.ts';
import { runCli, workspace } from '../helpers/cli.ts';
import { type GitHubStandin, type StandinOptions, startGitHubStandin } from '../helpers/github-standin.ts';

const TOKEN = 'ghs_test_token_123';
let gh: GitHubStandin | undefined;
const disposers: (() => void)[] = [];
afterEach(async () => {
  await gh?.close();
  gh = undefined;
  for (const d of disposers.splice(0)) d();
});

async function setup(opts: Partial<StandinOptions> = {}) {
  gh = await startGitHubStandin({ token: TOKEN, runDetails: true, conclusions: ['success'], ...opts });
  const ws = workspace();
  disposers.push(ws.dispose);
  const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/platform' };
  const cli = (args: string[]) => runCli(['pipeline', '--interval', '20ms', ...args], { cwd: ws.dir, env });
  return { gh, cli };
}

describe('platformctl pipeline', () => {
  it('run --wait dispatches with run details, follows to success and exits 0', async () => {
    const { gh, cli } = await setup();
    const r = await cli(['run', 'deploy.yml', '--ref', 'release/1', '-f', 'env=staging', '--wait', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const dispatch = gh.requests.find((q) => q.method === 'POST');
    expect(dispatch).toMatchObject({
      path: '/repos/acme/platform/actions/workflows/deploy.yml/dispatches',
      body: { ref: 'release/1', inputs: { env: 'staging' }, return_run_details: true },
      authorization: `token ${TOKEN}`,
    });
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      foundBy: 'run-details',
      run: { status: 'completed', conclusion: 'success' },
    });
    expect(doc.jobs.map((j: { name: string }) => j.name)).toEqual(['build', 'test']);
  });

  it('exit code mirrors a failed run: no false pass', async () => {
    const { cli } = await setup({ conclusions: ['failure'] });
    const r = await cli(['run', 'ci.yml', '--wait']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/failure/);
  });

  it.each(['cancelled', 'skipped', 'neutral', 'timed_out'])('a %s run is not a pass', async (conclusion) => {
    const { cli } = await setup({ conclusions: [conclusion] });
    expect((await cli(['run', 'ci.yml', '--wait'])).exitCode).toBe(1);
  });

  it('without run details, finds the run by correlating a unique input', async () => {
    const { gh, cli } = await setup({ runDetails: false, concurrentForeignRun: true });
    const r = await cli(['run', 'deploy.yml', '--correlation-input', 'correlation_id', '--wait', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const body = gh.requests.find((q) => q.method === 'POST')?.body as { inputs: Record<string, string> };
    expect(body.inputs.correlation_id).toMatch(/^pctl-[0-9a-f]{8}$/);
    const doc = JSON.parse(r.stdout);
    expect(doc.foundBy).toBe('correlation');
    expect(doc.run.title).toContain(body.inputs.correlation_id);
  });

  it('without run details and two new runs, refuses to guess', async () => {
    const { cli } = await setup({ runDetails: false, concurrentForeignRun: true });
    const r = await cli(['run', 'deploy.yml']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/cannot tell which is ours/);
    expect(r.stderr).toMatch(/--correlation-input/);
  });

  it('status, logs (following the redirect), cancel and rerun --failed hit the right endpoints', async () => {
    const { gh, cli } = await setup({ conclusions: ['failure', 'success'], pollsToComplete: 1 });
    const started = JSON.parse((await cli(['run', 'ci.yml', '--json'])).stdout);
    const id = String(started.run.id);
    const status = await cli(['status', id, '--json']);
    expect(JSON.parse(status.stdout).run.id).toBe(started.run.id);
    const logs = await cli(['logs', id, '--job', 'test']);
    expect(logs.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/log of job \d+2\nall good/);
    expect((await cli(['cancel', id])).exitCode).toBe(0);
    const rerun = await cli(['rerun', id, '--failed', '--wait']);
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    const posts = gh.requests.filter((q) => q.method === 'POST').map((q) => q.path);
    expect(posts).toEqual([
      '/repos/acme/platform/actions/workflows/ci.yml/dispatches',
      `/repos/acme/platform/actions/runs/${id}/cancel`,
      `/repos/acme/platform/actions/runs/${id}/rerun-failed-jobs`,
    ]);
  });

  it('a missing token is a usage error, and tokens are not flags', async () => {
    const ws = workspace();
    disposers.push(ws.dispose);
    const r = await runCli(['pipeline', 'run', 'ci.yml', '--repo', 'a/b'], {
      cwd: ws.dir,
      env: { GITHUB_TOKEN: undefined, GH_TOKEN: undefined },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/export GITHUB_TOKEN/);
    const flag = await runCli(['pipeline', 'run', 'ci.yml', '--token', 'x'], { cwd: ws.dir });
    expect(flag.exitCode).toBe(2);
  });

  it("a bad token surfaces GitHub's answer", async () => {
    const { gh } = await setup();
    const ws = workspace();
    disposers.push(ws.dispose);
    const r = await runCli(['pipeline', 'list'], {
      cwd: ws.dir,
      env: { GITHUB_TOKEN: 'wrong', GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/platform' },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /^error: GitHub rejected the token while GET \/repos\/acme\/platform\/actions\/runs \(401 Bad credentials\)\nhint: check GITHUB_TOKEN/,
    );
    expect(r.stderr).not.toMatch(/500|UNKNOWN|bug in platformctl/);
  });

  it.each([
    ['ECONNREFUSED', async () => `http://127.0.0.1:${await closedPort()}`, /\(ECONNREFUSED\)$/],
    ['ENOTFOUND', async () => 'http://github-api.invalid', /\((ENOTFOUND|EAI_AGAIN)\)$/],
  ])('an unreachable API (%s) is explained, not reported as a bug', async (_code, url, reason) => {
    const ws = workspace();
    disposers.push(ws.dispose);
    const apiUrl = await url();
    const r = await runCli(['pipeline', 'list'], {
      cwd: ws.dir,
      env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: apiUrl, GITHUB_REPOSITORY: 'acme/platform' },
    });
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`error: cannot reach GitHub at ${apiUrl} while GET /repos/acme/platform/`);
    expect(lines[0]).toMatch(reason);
    expect(lines[1]).toMatch(/^hint: check your network, or GITHUB_API_URL/);
  });

  it('a local-path origin remote is not taken for a GitHub repository', async () => {
    const { gh } = await setup();
    const ws = workspace();
    disposers.push(ws.dispose);
    execFileSync('git', ['init', '-q'], { cwd: ws.dir });
    execFileSync('git', ['remote', 'add', 'origin', '/srv/git/platform.git'], { cwd: ws.dir });
    const r = await runCli(['pipeline', 'list'], {
      cwd: ws.dir,
      env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: undefined },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/cannot tell which GitHub repository to use/);
    expect(r.stderr).toMatch(/origin remote \(\/srv\/git\/platform.git\) is not a GitHub URL/);
    expect(gh.requests).toEqual([]);
  });
});

describe('repoFromRemote', () => {
  it.each([
    ['https://github.com/acme/platform.git', 'acme/platform'],
    ['git@github.com:acme/platform.git', 'acme/platform'],
    ['ssh://git@github.example.com/acme/platform', 'acme/platform'],
    ['/srv/git/platform.git', undefined],
    ['file:///srv/git/acme/platform.git', undefined],
    ['../platform', undefined],
  ])('%s -> %s', (url, slug) => {
    expect(repoFromRemote(url)).toBe(slug);
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
