/**
 * `incident file-actions` and `drill resolve --file-actions` through bin/platformctl against
 * stand-ins that follow the trackers' published API descriptions (GitHub's OpenAPI description
 * from @octokit/openapi; Jira's v3 description through jira.js's generated schemas).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writePostmortem } from '../../src/drills/postmortem.ts';
import { loadScenario } from '../../src/drills/scenario.ts';
import type { DrillRecord } from '../../src/drills/state.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import { type GitHubStandin, startGitHubStandin } from '../helpers/github-standin.ts';
import { type JiraStandin, startJiraStandin } from '../helpers/jira-standin.ts';
import { githubSpecFile, OpenApiChecker } from '../helpers/openapi.ts';

const TOKEN = 'ghs_incident_token';
const PLATFORM = `apiVersion: platformctl/v1
name: shop
owner: platform-team
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: builtin:gateway, port: 18080, kind: gateway }
  content: { path: builtin:content, port: 18082, routes: [/content], owner: alice }
incidents:
  tracker: github
  github: { repo: acme/shop, labels: [postmortem] }
  jira:
    site: https://acme.atlassian.net
    project: OPS
    accounts: { alice: "5b10ac8d82e05b22cc7d4ef5" }
`;

const disposers: (() => unknown)[] = [];
afterEach(async () => {
  for (const d of disposers.splice(0).reverse()) await d();
});

/** A workspace with platform.yaml and one real postmortem written by the drill code. */
function setup(id = 'drill-abc') {
  const ws = workspace({ 'platform.yaml': PLATFORM });
  disposers.push(ws.dispose);
  const scenario = loadScenario(join(REPO_ROOT, 'drills', 'bad-canary-at-50.yaml'));
  const record: DrillRecord = {
    schema: 1,
    id,
    scenario: scenario.name,
    title: scenario.title,
    severity: scenario.severity,
    file: scenario.file,
    startedAt: '2026-12-07T10:00:00.000Z',
    seed: 7,
    page: scenario.page,
    hintsTaken: 1,
    timeline: [],
    outcome: 'resolved',
    endedAt: '2026-12-07T10:09:00.000Z',
    times: { acknowledgeMs: 20_000, detectMs: 20_000, mitigateMs: 500_000 },
    faults: [],
  };
  const report = writePostmortem(join(ws.dir, '.platform', 'reports'), record, scenario);
  const items = (JSON.parse(readFileSync(report.json, 'utf8')) as { actionItems: { title: string }[] })
    .actionItems;
  return { ws, report, items, scenario };
}

const spec = githubSpecFile();

describe.skipIf('missing' in spec)(
  `incident file-actions on GitHub${'missing' in spec ? ` (skipped: ${spec.missing})` : ''}`,
  () => {
    const checker = 'file' in spec ? new OpenApiChecker(spec.file) : undefined;
    async function github(extra: { issuesPageSize?: number } = {}): Promise<GitHubStandin> {
      const gh = await startGitHubStandin({
        token: TOKEN,
        runDetails: true,
        conclusions: [],
        spec: checker,
        collaborators: ['alice'],
        ...extra,
      });
      disposers.push(() => gh.close());
      return gh;
    }

    it('files every action item once, with labels, the owner as assignee and a link to the postmortem', async () => {
      const gh = await github({ issuesPageSize: 2 });
      const { ws, items } = setup();
      const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url };
      const first = await runCli(['incident', 'file-actions', '--json'], { cwd: ws.dir, env });
      expect(first.exitCode, first.stderr).toBe(0);
      const doc = JSON.parse(first.stdout);
      expect(doc).toMatchObject({ tracker: 'github', target: 'acme/shop', dryRun: false });
      expect(doc.items.map((i: { status: string }) => i.status)).toEqual(items.map(() => 'created'));
      expect(gh.issues.map((i) => i.title)).toEqual(items.map((i) => i.title));
      for (const issue of gh.issues) {
        expect(issue.labels).toEqual(['incident-follow-up', 'postmortem']);
        expect(issue.assignees).toEqual(['alice']);
        expect(issue.body).toMatch(/Postmortem: \.platform\/reports\/drills\/.*bad-canary-at-50\.md/);
        expect(issue.body).toMatch(/<!-- platformctl:action-item [0-9a-f]{12} -->/);
      }

      // Again, and from the paged listing (2 per page): nothing new, each found by its key.
      const posts = gh.requests.filter((r) => r.method === 'POST').length;
      const again = await runCli(['incident', 'file-actions', '--json'], { cwd: ws.dir, env });
      expect(again.exitCode, again.stderr).toBe(0);
      const refs = JSON.parse(again.stdout).items.map((i: { status: string; ref: string }) => [
        i.status,
        i.ref,
      ]);
      expect(refs).toEqual(gh.issues.map((i) => ['exists', `#${i.number}`]));
      expect(gh.requests.filter((r) => r.method === 'POST').length).toBe(posts);
      expect(gh.requests.filter((r) => r.method === 'GET' && r.query.page === '2').length).toBeGreaterThan(0);
      expect(gh.violations).toEqual([]);
    });

    it('--dry-run reads the tracker and files nothing; a later run files only what is missing', async () => {
      const gh = await github();
      const { ws, report, items } = setup();
      const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url };
      const dry = await runCli(['incident', 'file-actions', report.json, '--dry-run'], { cwd: ws.dir, env });
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(
        new RegExp(`dry run: ${items.length} item\\(s\\) would be filed in acme/shop`),
      );
      expect(gh.issues).toEqual([]);
      // Someone filed the first item already (e.g. a run that failed half-way).
      const partial = await runCli(['incident', 'file-actions', report.json, '--json'], { cwd: ws.dir, env });
      expect(partial.exitCode).toBe(0);
      gh.issues.splice(1);
      const rest = await runCli(['incident', 'file-actions', report.json, '--json'], { cwd: ws.dir, env });
      const statuses = JSON.parse(rest.stdout).items.map((i: { status: string }) => i.status);
      expect(statuses).toEqual(['exists', ...items.slice(1).map(() => 'created')]);
      expect(gh.violations).toEqual([]);
    });

    it('a rejected token or an unreachable server is a clear error, never a bug report', async () => {
      const gh = await github();
      const { ws } = setup();
      const bad = await runCli(['incident', 'file-actions'], {
        cwd: ws.dir,
        env: { GITHUB_TOKEN: 'wrong', GITHUB_API_URL: gh.url },
      });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toMatch(/GitHub rejected the token/);
      expect(bad.stderr).not.toMatch(/bug in platformctl|at .*\.js:/);
      await gh.close();
      const down = await runCli(['incident', 'file-actions'], {
        cwd: ws.dir,
        env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url },
      });
      expect(down.exitCode).toBe(1);
      expect(down.stderr).toMatch(/cannot reach GitHub/);
      expect(down.stderr).not.toMatch(/bug in platformctl/);
      const none = await runCli(['incident', 'file-actions'], {
        cwd: ws.dir,
        env: { GITHUB_TOKEN: undefined, GH_TOKEN: undefined, GITHUB_API_URL: gh.url },
      });
      expect(none.exitCode).toBe(2);
      expect(none.stderr).toMatch(/GITHUB_TOKEN/);
    });
  },
);

describe('incident file-actions on Jira', () => {
  const creds = { JIRA_EMAIL: 'oncall@acme.test', JIRA_API_TOKEN: 'jira-token-1' };
  async function jira(): Promise<JiraStandin> {
    const j = await startJiraStandin({
      email: creds.JIRA_EMAIL,
      apiToken: creds.JIRA_API_TOKEN,
      projects: { OPS: { issueTypes: ['Task', 'Bug'] } },
      accountIds: ['5b10ac8d82e05b22cc7d4ef5'],
      pageSize: 2,
    });
    disposers.push(() => j.close());
    return j;
  }

  it('files ADF issues with key labels and the mapped assignee, idempotently', async () => {
    const j = await jira();
    const { ws, items } = setup();
    const env = { ...creds, JIRA_SITE: j.url };
    const first = await runCli(['incident', 'file-actions', '--tracker', 'jira', '--json'], {
      cwd: ws.dir,
      env,
    });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).items.map((i: { ref: string }) => i.ref)).toEqual(
      items.map((_, n) => `OPS-${n + 1}`),
    );
    expect(j.issues.every((i) => i.assignee === '5b10ac8d82e05b22cc7d4ef5' && i.issueType === 'Task')).toBe(
      true,
    );
    expect(
      j.issues.every(
        (i) => i.labels[0] === 'incident-follow-up' && /^pctl-[0-9a-f]{12}$/.test(i.labels[1] ?? ''),
      ),
    ).toBe(true);
    const again = await runCli(['incident', 'file-actions', '--tracker', 'jira', '--json'], {
      cwd: ws.dir,
      env,
    });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).items.every((i: { status: string }) => i.status === 'exists')).toBe(true);
    expect(j.issues).toHaveLength(items.length);
    expect(j.violations).toEqual([]);
  });

  it('wrong credentials, an unknown project and missing credentials each say what to fix', async () => {
    const j = await jira();
    const { ws } = setup();
    const wrong = await runCli(['incident', 'file-actions', '--tracker', 'jira'], {
      cwd: ws.dir,
      env: { ...creds, JIRA_API_TOKEN: 'nope', JIRA_SITE: j.url },
    });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/Jira refused the credentials.*\n.*JIRA_API_TOKEN/);
    const project = await runCli(['incident', 'file-actions', '--tracker', 'jira', '--project', 'NOPE'], {
      cwd: ws.dir,
      env: { ...creds, JIRA_SITE: j.url },
    });
    expect(project.exitCode).toBe(1);
    expect(project.stderr).toMatch(/valid project is required/);
    const missing = await runCli(['incident', 'file-actions', '--tracker', 'jira'], {
      cwd: ws.dir,
      env: { JIRA_EMAIL: undefined, JIRA_API_TOKEN: undefined, JIRA_SITE: j.url },
    });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/JIRA_EMAIL and JIRA_API_TOKEN/);
    expect(`${wrong.stderr}${project.stderr}${missing.stderr}`).not.toMatch(/bug in platformctl/);
  });
});

describe('incident file-actions input', () => {
  it('names the way out when there is no postmortem or it is not one', async () => {
    const ws = workspace({ 'platform.yaml': PLATFORM, 'notes.json': '{"hello": 1}' });
    disposers.push(ws.dispose);
    const none = await runCli(['incident', 'file-actions', '--dry-run'], {
      cwd: ws.dir,
      env: { GITHUB_TOKEN: TOKEN },
    });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toMatch(/no postmortem under .*\n.*drill resolve/);
    const wrong = await runCli(['incident', 'file-actions', 'notes.json'], {
      cwd: ws.dir,
      env: { GITHUB_TOKEN: TOKEN },
    });
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toMatch(/not a postmortem report/);
  });
});
