import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { runCli, workspace } from '../helpers/cli.ts';
import { type GitHubStandin, startGitHubStandin } from '../helpers/github-standin.ts';

const PLATFORM = `name: shop
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, namespace: shop-staging, registry: ghcr.io/acme }
  prod: { cloud: aws, region: eu-west-1, provider: kubernetes, protected: true, registry: ghcr.io/acme, mesh: istio }
services:
  web: { path: services/web, port: 8080, routes: [/web] }
  jobs: { path: services/jobs, port: 8090, kind: worker }
`;
const REPO_URL = 'https://github.com/acme/shop.git';

/** The shape Argo CD requires of an Application (the fields it rejects a sync without). */
const applicationSchema = z.object({
  apiVersion: z.literal('argoproj.io/v1alpha1'),
  kind: z.literal('Application'),
  metadata: z.object({ name: z.string().regex(/^[a-z0-9-]+$/), namespace: z.literal('argocd') }),
  spec: z.object({
    project: z.string(),
    source: z.object({ repoURL: z.string().url(), targetRevision: z.string(), path: z.string().min(1) }),
    destination: z.object({ server: z.string().url(), namespace: z.string().min(1) }),
    syncPolicy: z.object({ automated: z.object({ prune: z.boolean(), selfHeal: z.boolean() }) }).optional(),
  }),
});

const disposers: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const d of disposers.splice(0)) await d();
});

function setup() {
  const ws = workspace({ 'platform.yaml': PLATFORM });
  disposers.push(ws.dispose);
  return ws.dir;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) =>
    statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)],
  );
}

function kubectl(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('platformctl gitops render', () => {
  it('writes Kustomize overlays and an Argo CD app-of-apps that validate', async () => {
    const dir = setup();
    const r = await runCli(['gitops', 'render', '--env', 'staging', '--repo-url', REPO_URL, '--json'], {
      cwd: dir,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { flavour: string; repoPath: string; tags: Record<string, string> };
    expect(out).toMatchObject({
      flavour: 'argocd',
      repoPath: 'gitops',
      tags: { web: 'latest', jobs: 'latest' },
    });
    const files = walk(join(dir, 'gitops'))
      .map((f) => relative(join(dir, 'gitops'), f))
      .sort();
    expect(files).toContain('argocd/staging/root.yaml');
    expect(files).toContain('argocd/staging/apps/web.yaml');
    expect(files).toContain('services/web/base/deployment.yaml');
    expect(files).toContain('services/web/overlays/staging/route.yaml');
    expect(files).not.toContain('services/jobs/overlays/staging/route.yaml');
    expect(files.some((f) => f.startsWith('mesh/'))).toBe(false);

    const apps = files
      .filter((f) => f.startsWith('argocd/'))
      .map((f) => parse(readFileSync(join(dir, 'gitops', f), 'utf8')) as unknown);
    for (const app of apps) applicationSchema.parse(app);
    const root = applicationSchema.parse(
      parse(readFileSync(join(dir, 'gitops/argocd/staging/root.yaml'), 'utf8')),
    );
    expect(root.spec.source).toMatchObject({
      repoURL: REPO_URL,
      path: 'gitops/argocd/staging/apps',
      targetRevision: 'main',
    });
    const web = applicationSchema.parse(
      parse(readFileSync(join(dir, 'gitops/argocd/staging/apps/web.yaml'), 'utf8')),
    );
    expect(web.metadata.name).toBe('shop-staging-web');
    expect(web.spec.source.path).toBe('gitops/services/web/overlays/staging');
    expect(web.spec.destination.namespace).toBe('shop-staging');

    const route = parse(readFileSync(join(dir, 'gitops/services/web/overlays/staging/route.yaml'), 'utf8'));
    expect(route).toMatchObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      spec: { rules: [{ backendRefs: [{ name: 'web', port: 80, weight: 100 }] }] },
    });

    if (kubectl()) {
      const rendered = execFileSync(
        'kubectl',
        ['kustomize', join(dir, 'gitops/services/web/overlays/staging')],
        {
          encoding: 'utf8',
        },
      );
      const docs = parseAllDocuments(rendered).map(
        (d) => d.toJS() as { kind: string; metadata: { namespace?: string }; spec?: unknown },
      );
      const kinds = docs.map((d) => d.kind).sort();
      expect(kinds).toEqual(
        [
          'ConfigMap',
          'Deployment',
          'HTTPRoute',
          'HorizontalPodAutoscaler',
          'NetworkPolicy',
          'PodDisruptionBudget',
          'Role',
          'RoleBinding',
          'Service',
          'ServiceAccount',
        ].sort(),
      );
      expect(docs.every((d) => d.metadata.namespace === 'shop-staging')).toBe(true);
      const dep = docs.find((d) => d.kind === 'Deployment') as {
        spec: { template: { spec: { containers: { image: string }[] } } };
      };
      expect(dep.spec.template.spec.containers[0]?.image).toBe('ghcr.io/acme/web:latest');
    }
  });

  it('renders Istio mesh objects and Flux Kustomizations with --flux', async () => {
    const dir = setup();
    const r = await runCli(
      ['gitops', 'render', '--env', 'prod', '--flux', '--repo-url', REPO_URL, '--out', 'deploy'],
      { cwd: dir },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const base = join(dir, 'deploy');
    const web = parse(readFileSync(join(base, 'flux/prod/web.yaml'), 'utf8'));
    expect(web).toMatchObject({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'shop-prod-web', namespace: 'flux-system' },
      spec: {
        path: './deploy/services/web/overlays/prod',
        prune: true,
        targetNamespace: 'shop-prod',
        sourceRef: { kind: 'GitRepository', name: 'shop' },
      },
    });
    expect(parse(readFileSync(join(base, 'flux/prod/source.yaml'), 'utf8'))).toMatchObject({
      kind: 'GitRepository',
      spec: { url: REPO_URL, ref: { branch: 'main' } },
    });
    expect(existsSync(join(base, 'argocd'))).toBe(false);
    const mesh = parseAllDocuments(readFileSync(join(base, 'mesh/prod/mesh.yaml'), 'utf8')).map((d) =>
      d.toJS(),
    );
    expect(mesh[0]).toMatchObject({ kind: 'PeerAuthentication', spec: { mtls: { mode: 'STRICT' } } });
    const vs = parse(readFileSync(join(base, 'services/web/overlays/prod/route.yaml'), 'utf8'));
    expect(vs).toMatchObject({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService' });
    expect(vs.spec.http[0].retries).toMatchObject({ attempts: 3 });
    if (kubectl()) {
      const rendered = execFileSync('kubectl', ['kustomize', join(base, 'mesh/prod')], { encoding: 'utf8' });
      expect(rendered).toContain('namespace: shop-prod');
    }
  });

  it('keeps a promoted tag when rendering again', async () => {
    const dir = setup();
    await runCli(['gitops', 'render', '--env', 'prod', '--repo-url', REPO_URL], { cwd: dir });
    const file = join(dir, 'gitops/services/web/overlays/prod/kustomization.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('newTag: latest', 'newTag: "1.4.2"'));
    const r = await runCli(['gitops', 'render', '--env', 'prod', '--repo-url', REPO_URL, '--json'], {
      cwd: dir,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).tags.web).toBe('1.4.2');
    expect(parse(readFileSync(file, 'utf8')).images[0].newTag).toBe('1.4.2');
    // --check: up to date now; a hand edit of a rendered file is drift (exit 5).
    const ok = await runCli(['gitops', 'render', '--env', 'prod', '--repo-url', REPO_URL, '--check'], {
      cwd: dir,
    });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const route = join(dir, 'gitops/services/web/overlays/prod/route.yaml');
    writeFileSync(route, `${readFileSync(route, 'utf8')}# hand edit\n`);
    const drift = await runCli(['gitops', 'render', '--env', 'prod', '--repo-url', REPO_URL, '--check'], {
      cwd: dir,
    });
    expect(drift.exitCode).toBe(5);
    expect(drift.stderr).toContain('services/web/overlays/prod/route.yaml');
    expect(readFileSync(route, 'utf8')).toContain('# hand edit');
  });
});

describe('platformctl gitops promote', () => {
  const TOKEN = 'ghs_gitops_token';

  async function repoWithRender(): Promise<{ dir: string; gh: GitHubStandin }> {
    const dir = setup();
    for (const env of ['staging', 'prod'])
      await runCli(['gitops', 'render', '--env', env, '--repo-url', REPO_URL], { cwd: dir });
    const staging = join(dir, 'gitops/services/web/overlays/staging/kustomization.yaml');
    writeFileSync(staging, readFileSync(staging, 'utf8').replace('newTag: latest', 'newTag: "2.0.1"'));
    const files: Record<string, string> = {};
    for (const f of walk(join(dir, 'gitops'))) files[relative(dir, f)] = readFileSync(f, 'utf8');
    const gh = await startGitHubStandin({ token: TOKEN, runDetails: true, conclusions: [], files });
    disposers.push(() => gh.close());
    return { dir, gh };
  }

  it("bumps prod to staging's tag on a branch and opens a pull request", async () => {
    const { dir, gh } = await repoWithRender();
    const mainSha = gh.branches.get('main')?.sha;
    const r = await runCli(['gitops', 'promote', 'web', '--to', 'prod', '--json'], {
      cwd: dir,
      env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/shop' },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    const branch = 'platformctl/promote-web-prod-2.0.1';
    expect(result).toMatchObject({
      service: 'web',
      environment: 'prod',
      from: 'latest',
      to: '2.0.1',
      branch,
      pullRequest: { number: 1 },
    });

    const calls = gh.requests.map(
      (q) => `${q.method} ${decodeURIComponent(q.path)}${q.query.ref ? `?ref=${q.query.ref}` : ''}`,
    );
    expect(calls).toEqual([
      'GET /repos/acme/shop/git/ref/heads/main',
      `GET /repos/acme/shop/contents/gitops/services/web/overlays/staging/kustomization.yaml?ref=${mainSha}`,
      `GET /repos/acme/shop/contents/gitops/services/web/overlays/prod/kustomization.yaml?ref=${mainSha}`,
      'POST /repos/acme/shop/git/refs',
      'PUT /repos/acme/shop/contents/gitops/services/web/overlays/prod/kustomization.yaml',
      'POST /repos/acme/shop/pulls',
    ]);
    expect(gh.requests.every((q) => q.authorization?.toLowerCase() === `token ${TOKEN}`)).toBe(true);
    expect(gh.requests[3]?.body).toEqual({ ref: `refs/heads/${branch}`, sha: mainSha });
    const put = gh.requests[4]?.body as { message: string; branch: string; sha: string; content: string };
    expect(put.branch).toBe(branch);
    expect(put.message).toBe('promote web to 2.0.1 in prod');
    const newText = Buffer.from(put.content, 'base64').toString('utf8');
    expect(parse(newText).images[0]).toEqual({ name: 'web', newName: 'ghcr.io/acme/web', newTag: '2.0.1' });
    // Only the tag changed.
    const oldText = readFileSync(join(dir, 'gitops/services/web/overlays/prod/kustomization.yaml'), 'utf8');
    expect(newText).toBe(oldText.replace('newTag: latest', 'newTag: 2.0.1'));
    expect(gh.requests[5]?.body).toMatchObject({
      title: 'promote web to 2.0.1 in prod',
      head: branch,
      base: 'main',
    });
    expect(gh.branches.get('main')?.files.get('gitops/services/web/overlays/prod/kustomization.yaml')).toBe(
      oldText,
    );

    // The same promotion again: the branch exists, a clear error.
    const again = await runCli(['gitops', 'promote', 'web', '--to', 'prod'], {
      cwd: dir,
      env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/shop' },
    });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('already exists');
  });

  it('an explicit --image-tag already pinned changes nothing; no token is a usage error', async () => {
    const { dir, gh } = await repoWithRender();
    const env = { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/shop' };
    const r = await runCli(['gitops', 'promote', 'web', '--to', 'prod', '--image-tag', 'latest'], {
      cwd: dir,
      env,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('already pins latest');
    expect(gh.requests.filter((q) => q.method !== 'GET')).toEqual([]);
    const noToken = await runCli(['gitops', 'promote', 'web', '--to', 'prod'], {
      cwd: dir,
      env: { GITHUB_TOKEN: undefined, GH_TOKEN: undefined, GITHUB_API_URL: gh.url },
    });
    expect(noToken.exitCode).toBe(2);
    expect(noToken.stderr).toContain('GITHUB_TOKEN');
  });
});
