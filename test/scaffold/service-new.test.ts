import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';

const hasKubectl = spawnSync('kubectl', ['version', '--client=true']).status === 0;

/** A platform project whose node_modules are platformctl's, as when platformctl is a devDependency. */
function project(): ReturnType<typeof workspace> {
  const ws = workspace({
    'platform.yaml': renderPlatformYaml({ name: 'acme', owner: 'ops', cloud: 'aws', region: 'eu-west-1' }),
  });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(ws.dir, 'node_modules'));
  return ws;
}

/** Validates one Kubernetes object against the upstream OpenAPI schema via kubernetes-models. */
async function validateK8s(obj: { apiVersion: string; kind: string }): Promise<void> {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const modulePath = group
    ? `kubernetes-models/${group}/${version}/${obj.kind}`
    : `kubernetes-models/${version}/${obj.kind}`;
  const mod = (await import(modulePath)) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = mod[obj.kind] as new (o: unknown) => { validate(): void };
  new Model(obj).validate();
}

function runVitest(root: string): { status: number | null; output: string } {
  const r = spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', root],
    {
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', NO_COLOR: '1', FORCE_COLOR: '0' },
    },
  );
  return { status: r.status, output: r.stdout + r.stderr };
}

/** `biome check` run inside the service, as its own CI job does; reads the service's biome.json. */
function biomeCheck(dir: string): { status: number | null; output: string } {
  const r = spawnSync(join(REPO_ROOT, 'node_modules', '.bin', 'biome'), ['check', '.'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe.each(['node-http', 'worker'])('service new --template %s', (template) => {
  let ws: ReturnType<typeof workspace>;
  const name = template === 'worker' ? 'thumbs' : 'billing';
  const svc = () => join(ws.dir, 'services', name);
  beforeAll(async () => {
    ws = project();
    const r = await runCli(
      ['service', 'new', name, '--template', template, '--owner', 'payments', '--helm', '--no-input'],
      { cwd: ws.dir },
    );
    expect(r.exitCode, r.stderr).toBe(0);
  });
  afterAll(() => ws.dispose());

  it('registers the service in platform.yaml, which stays valid', async () => {
    const doc = parseYaml(readFileSync(join(ws.dir, 'platform.yaml'), 'utf8'));
    expect(doc.services[name]).toEqual({
      path: `services/${name}`,
      port: 8084,
      routes: [`/${name}`],
      owner: 'payments',
    });
    expect((await runCli(['config', 'validate'], { cwd: ws.dir })).exitCode).toBe(0);
  });

  it('passes its own generated tests', () => {
    const r = runVitest(svc());
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/Tests\s+\d+ passed/);
  });

  it('passes its own lint (biome check with the biome.json it ships)', () => {
    const r = biomeCheck(svc());
    expect(r.status, r.output).toBe(0);
  });

  it('generates a workflow that validates against the GitHub Actions schema', () => {
    // GitHub reads workflows only at the repository root, so that is where the service's goes.
    const text = readFileSync(join(ws.dir, '.github', 'workflows', `${name}.yml`), 'utf8');
    const result = validateWorkflow(text) as { errors: unknown[] };
    expect(result.errors).toEqual([]);
    const wf = parseYaml(text);
    expect(Object.keys(wf.jobs)).toEqual(['test', 'image', 'gitops-bump']);
    const uses = JSON.stringify(wf.jobs.image.steps);
    expect(uses).toContain('aquasecurity/trivy-action');
    expect(uses).toContain('anchore/sbom-action');
  });

  it('pins every action by commit SHA, with the tag in a comment', () => {
    const text = readFileSync(join(ws.dir, '.github', 'workflows', `${name}.yml`), 'utf8');
    const uses = text.split('\n').filter((l) => /^\s*(- )?uses:/.test(l));
    expect(uses.length).toBeGreaterThan(5);
    for (const line of uses) expect(line).toMatch(/uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v?\d+\.\d+\.\d+$/);
  });

  it('scans the image it built before anything is pushed, and a pull request never pushes', () => {
    const wf = parseYaml(readFileSync(join(ws.dir, '.github', 'workflows', `${name}.yml`), 'utf8'));
    type Step = { id?: string; uses?: string; run?: string; if?: string; with?: Record<string, unknown> };
    const steps = wf.jobs.image.steps as Step[];
    const at = (pred: (s: Step) => boolean) => steps.findIndex(pred);
    const build = at((s) => Boolean(s.uses?.startsWith('docker/build-push-action@')));
    const scan = at((s) => Boolean(s.uses?.startsWith('aquasecurity/trivy-action@')));
    const sbom = at((s) => Boolean(s.uses?.startsWith('anchore/sbom-action@')));
    const pushes = steps
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => /docker push/.test(s.run ?? '') || s.with?.push === true || s.with?.push === 'true');
    // Trivy and the SBOM read the image from the runner's Docker: the build must load it there.
    expect(steps[build]?.with).toMatchObject({ load: true, push: false });
    const tag = steps[build]?.with?.tags;
    expect(steps[scan]?.with?.['image-ref']).toBe(tag);
    expect(steps[scan]?.with?.['exit-code']).toBe('1');
    expect(steps[sbom]?.with?.image).toBe(tag);
    expect(build).toBeLessThan(scan);
    expect(scan).toBeLessThan(sbom);
    expect(pushes).toHaveLength(1);
    const push = pushes[0] as { s: Step; i: number };
    expect(push.i).toBeGreaterThan(sbom);
    expect(push.s.if).toBe("github.event_name != 'pull_request'");
    // The registry login happens only where the push does.
    const login = at((s) => Boolean(s.uses?.startsWith('docker/login-action@')));
    expect(login).toBeGreaterThan(scan);
    expect(steps[login]?.if).toBe(push.s.if);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a JS template
    expect(wf.jobs.image.outputs.digest).toBe('${{ steps.push.outputs.digest }}');
  });

  it('generates Kubernetes manifests that validate against the Kubernetes schemas', async () => {
    const base = join(svc(), 'k8s', 'base');
    const kinds: string[] = [];
    for (const file of readdirSync(base).filter((f) => f !== 'kustomization.yaml')) {
      for (const doc of parseAllDocuments(readFileSync(join(base, file), 'utf8'))) {
        const obj = doc.toJS();
        await validateK8s(obj);
        kinds.push(obj.kind);
      }
    }
    expect(kinds.sort()).toEqual([
      'Deployment',
      'HorizontalPodAutoscaler',
      'NetworkPolicy',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
  });

  it.runIf(hasKubectl || Boolean(process.env.CI))(
    'kubectl kustomize renders every overlay into valid objects',
    async () => {
      for (const env of ['dev', 'staging', 'prod']) {
        const out = execFileSync('kubectl', ['kustomize', join(svc(), 'k8s', 'overlays', env)], {
          encoding: 'utf8',
        });
        const objects = parseAllDocuments(out).map((d) => d.toJS());
        for (const obj of objects) await validateK8s(obj);
        const deployment = objects.find((o) => o.kind === 'Deployment');
        expect(deployment.metadata.namespace).toBe(`acme-${env}`);
        expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
        expect(deployment.spec.template.spec.containers[0].securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
        });
      }
    },
  );

  it('writes a multi-stage, non-root Dockerfile with a pinned base and a healthcheck', () => {
    const docker = readFileSync(join(svc(), 'Dockerfile'), 'utf8');
    expect(docker.match(/^FROM /gm)).toHaveLength(2);
    // Pinned by digest: a tag can be re-pointed to another image; the tag stays for readers.
    for (const from of docker.match(/^FROM .*$/gm) ?? [])
      expect(from).toMatch(/^FROM node:\d+\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}( AS \w+)?$/);
    expect(docker).toMatch(/^USER node$/m);
    expect(docker).toMatch(/^HEALTHCHECK /m);
  });
});

describe('service new with a 40-character name', () => {
  it.each(['node-http', 'worker'])(
    '%s still passes its own lint (no line depends on the name)',
    async (t) => {
      const ws = project();
      const name = `s${'x'.repeat(38)}${t === 'worker' ? 'w' : 'h'}`;
      const r = await runCli(['service', 'new', name, '--template', t, '--owner', 'x', '--no-input'], {
        cwd: ws.dir,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      const lint = biomeCheck(join(ws.dir, 'services', name));
      ws.dispose();
      expect(lint.status, lint.output).toBe(0);
    },
  );
});

describe('service new without a terminal', () => {
  it('names the missing flag and writes nothing', async () => {
    const ws = project();
    const r = await runCli(['service', 'new', 'billing'], { cwd: ws.dir, env: { CI: 'true' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/pass --template/);
    expect(existsSync(join(ws.dir, 'services'))).toBe(false);
    ws.dispose();
  });

  it('--dry-run lists files and writes nothing', async () => {
    const ws = project();
    const before = readFileSync(join(ws.dir, 'platform.yaml'), 'utf8');
    const r = await runCli(
      ['--json', 'service', 'new', 'billing', '--template', 'node-http', '--owner', 'x', '--dry-run'],
      { cwd: ws.dir },
    );
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.files.map((f: { path: string }) => f.path)).toContain('services/billing/Dockerfile');
    expect(doc.files.map((f: { path: string }) => f.path)).not.toContain('services/billing/helm/Chart.yaml');
    expect(existsSync(join(ws.dir, 'services'))).toBe(false);
    expect(readFileSync(join(ws.dir, 'platform.yaml'), 'utf8')).toBe(before);
    ws.dispose();
  });

  it("pins pushed images in the platform's first unprotected Kubernetes environment, whatever its name", async () => {
    const ws = project();
    const yaml = readFileSync(join(ws.dir, 'platform.yaml'), 'utf8')
      .replace('  prod:\n', '  live:\n')
      .replace('  staging:\n', '  qa:\n');
    writeFileSync(join(ws.dir, 'platform.yaml'), yaml);
    const r = await runCli(['service', 'new', 'billing', '--template', 'node-http', '--owner', 'x'], {
      cwd: ws.dir,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const wf = parseYaml(readFileSync(join(ws.dir, '.github', 'workflows', 'billing.yml'), 'utf8'));
    const bump = wf.jobs['gitops-bump'].steps.map((s: { run?: string }) => s.run ?? '').join('\n');
    expect(bump).toMatch(/gitops promote billing --to qa --image-tag/);
    ws.dispose();
  });

  it('refuses an existing service name and a taken port', async () => {
    const ws = project();
    expect(
      (await runCli(['service', 'new', 'content', '--template', 'worker', '--owner', 'x'], { cwd: ws.dir }))
        .exitCode,
    ).toBe(2);
    const port = await runCli(
      ['service', 'new', 'billing', '--template', 'worker', '--owner', 'x', '--port', '8081'],
      { cwd: ws.dir },
    );
    expect(port.exitCode).toBe(2);
    expect(port.stderr).toMatch(/port 8081 is used by service "auth"/);
    ws.dispose();
  });
});

describe('service upgrade', () => {
  function setup() {
    const ws = project();
    const templates = join(ws.dir, 'my-templates');
    cpSync(join(REPO_ROOT, 'templates', 'service'), templates, { recursive: true });
    return { ws, templates, env: { PLATFORMCTL_TEMPLATES_DIR: templates } };
  }
  function bumpTemplate(templates: string, edit: (dir: string) => void) {
    const dir = join(templates, 'node-http');
    const manifest = JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8'));
    writeFileSync(join(dir, 'template.json'), JSON.stringify({ ...manifest, version: manifest.version + 1 }));
    edit(dir);
  }

  it('keeps user edits, takes template changes and new files, and records the new version', async () => {
    const { ws, templates, env } = setup();
    expect(
      (
        await runCli(['service', 'new', 'billing', '--template', 'node-http', '--owner', 'x'], {
          cwd: ws.dir,
          env,
        })
      ).exitCode,
    ).toBe(0);
    const routes = join(ws.dir, 'services/billing/src/routes.ts');
    writeFileSync(
      routes,
      readFileSync(routes, 'utf8').replace('app.get(ITEMS', '// user: list is public\n  app.get(ITEMS'),
    );
    bumpTemplate(templates, (dir) => {
      const docker = join(dir, 'Dockerfile.tmpl');
      writeFileSync(
        docker,
        readFileSync(docker, 'utf8').replace(
          'EXPOSE {{port}}',
          'EXPOSE {{port}}\nLABEL org.opencontainers.image.title={{name}}',
        ),
      );
      writeFileSync(join(dir, 'CODEOWNERS.tmpl'), '* @{{owner}}\n');
    });
    const r = await runCli(['--json', 'service', 'upgrade', 'billing'], { cwd: ws.dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ from: 1, to: 2 });
    const byPath = Object.fromEntries(
      doc.changes.map((c: { path: string; action: string }) => [c.path, c.action]),
    );
    expect(byPath['services/billing/Dockerfile']).toBe('update');
    expect(byPath['services/billing/CODEOWNERS']).toBe('create');
    expect(byPath['services/billing/src/routes.ts']).toBe('unchanged');
    expect(readFileSync(routes, 'utf8')).toContain('// user: list is public');
    expect(readFileSync(join(ws.dir, 'services/billing/Dockerfile'), 'utf8')).toContain(
      'LABEL org.opencontainers.image.title=billing',
    );
    expect(readFileSync(join(ws.dir, 'services/billing/CODEOWNERS'), 'utf8')).toBe('* @x\n');
    ws.dispose();
  });

  it('merges a user edit and a template edit of the same file', async () => {
    const { ws, templates, env } = setup();
    await runCli(['service', 'new', 'billing', '--template', 'node-http', '--owner', 'x'], {
      cwd: ws.dir,
      env,
    });
    const docker = join(ws.dir, 'services/billing/Dockerfile');
    writeFileSync(
      docker,
      readFileSync(docker, 'utf8').replace(
        '# syntax=docker/dockerfile:1.7',
        '# syntax=docker/dockerfile:1.7\n# user: reviewed by security',
      ),
    );
    bumpTemplate(templates, (dir) => {
      const t = join(dir, 'Dockerfile.tmpl');
      writeFileSync(t, `${readFileSync(t, 'utf8')}STOPSIGNAL SIGTERM\n`);
    });
    const r = await runCli(['--json', 'service', 'upgrade', 'billing'], { cwd: ws.dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(
      JSON.parse(r.stdout).changes.find((c: { path: string }) => c.path.endsWith('Dockerfile')).action,
    ).toBe('merge');
    const merged = readFileSync(docker, 'utf8');
    expect(merged).toContain('# user: reviewed by security');
    expect(merged).toContain('STOPSIGNAL SIGTERM');
    ws.dispose();
  });

  it('shows conflicts with markers and exits 1', async () => {
    const { ws, templates, env } = setup();
    await runCli(['service', 'new', 'billing', '--template', 'node-http', '--owner', 'x'], {
      cwd: ws.dir,
      env,
    });
    const docker = join(ws.dir, 'services/billing/Dockerfile');
    writeFileSync(docker, readFileSync(docker, 'utf8').replace('USER node', 'USER 10001'));
    bumpTemplate(templates, (dir) => {
      const t = join(dir, 'Dockerfile.tmpl');
      writeFileSync(t, readFileSync(t, 'utf8').replace('USER node', 'USER app'));
    });
    const r = await runCli(['service', 'upgrade', 'billing'], { cwd: ws.dir, env });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/conflict\s+services\/billing\/Dockerfile \(1 conflicts\)/);
    expect(readFileSync(docker, 'utf8')).toMatch(
      /<<<<<<< Dockerfile \(yours\)\nUSER 10001\n\|\|\|\|\|\|\| Dockerfile \(template before\)\nUSER node\n=======\nUSER app\n>>>>>>> Dockerfile \(template now\)/,
    );
    // Run again without resolving: the markers are not an edit to keep, and the exit is not 0.
    const conflicted = readFileSync(docker, 'utf8');
    const again = await runCli(['service', 'upgrade', 'billing'], { cwd: ws.dir, env });
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/1 file\(s\) still have conflict markers: services\/billing\/Dockerfile/);
    expect(again.stderr).toMatch(/hint: resolve the <<<<<<</);
    expect(readFileSync(docker, 'utf8')).toBe(conflicted);
    // Resolved, the upgrade goes through.
    writeFileSync(docker, conflicted.replace(/<{7}[\s\S]*?>{7} Dockerfile \(template now\)\n/, 'USER app\n'));
    expect((await runCli(['service', 'upgrade', 'billing'], { cwd: ws.dir, env })).exitCode).toBe(0);
    ws.dispose();
  });
});
