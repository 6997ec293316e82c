/**
 * The CI workflows and the GitOps manifests rendered from one platform.yaml agree: the image each
 * service's workflow builds, scans and pushes is the image every Kubernetes environment deploys
 * (registry, name, and the tag the workflow's GitOps bump pins), every service has a build job, the
 * Dockerfile each build uses exists, and the image job runs build → load → scan + SBOM → push.
 *
 * The manifests come from test/helpers/production-render.ts (synth, `gitops render` with the
 * Terraform outputs, real kustomize), for two platforms: this repository's (the built-in services,
 * whose workflows `service adopt` wrote) and a new one made by `init` + `service new` with no
 * registry flag.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { type LoadedPlatform, loadPlatform } from '../../src/core/config/load.ts';
import { overlayPath, setPinnedTag } from '../../src/gitops/render.ts';
import { renderStored, type StoredAnswers, sourceDirOf } from '../../src/scaffold/service.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import { type Kustomize, kustomize } from '../helpers/kustomize.ts';
import { type KubeDoc, type ProductionRender, renderProduction } from '../helpers/production-render.ts';

const kz = kustomize();
const SHA = 'c0ffee0123456789abcdef0123456789abcdef01';

type Step = {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
};
type Workflow = { env?: Record<string, string>; jobs: Record<string, { steps: Step[]; needs?: string }> };

/** A service's workflow as its template renders it now, from the answers `service new/adopt` stored. */
function renderedWorkflow(platform: LoadedPlatform, service: string): string | undefined {
  const spec = platform.config.services[service];
  const answersFile = spec && join(sourceDirOf(platform.root, spec.path), '.platformctl', 'answers.json');
  if (!answersFile || !existsSync(answersFile)) return undefined;
  const stored = JSON.parse(readFileSync(answersFile, 'utf8')) as StoredAnswers;
  return renderStored(stored, platform.config).files.get(`.github/workflows/${service}.yml`);
}

/** The image of the service's Deployment among kustomize's output. */
function imageOf(objects: KubeDoc[], service: string, where: string): string {
  const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === service);
  const image = deployment?.spec?.template?.spec?.containers?.[0]?.image;
  if (typeof image !== 'string') throw new Error(`no ${service} Deployment image in ${where}`);
  return image;
}

/**
 * Every Kubernetes environment of the platform.yaml in `dir`, rendered as a user does
 * (test/helpers/production-render.ts: synth, gitops render with the Terraform outputs, kustomize).
 */
async function renderEnvironments(dir: string): Promise<ProductionRender[]> {
  const platform = loadPlatform(dir, undefined, {});
  const renders: ProductionRender[] = [];
  for (const [env, spec] of Object.entries(platform.config.environments))
    if (spec.provider === 'kubernetes') renders.push(await renderProduction(dir, env, kz as Kustomize));
  return renders;
}

/**
 * Every cross-check between one platform's workflows (in `platform.root`) and its manifests
 * (`renders`, whose GitOps directory is `gitopsDir`).
 */
function checkAgreement(
  platform: LoadedPlatform,
  renders: ProductionRender[],
  gitopsDir: string,
  services: string[],
): void {
  const envs = renders.map((r) => r.env);
  expect(envs.length).toBeGreaterThan(0);
  for (const service of services) {
    const file = join(platform.root, '.github', 'workflows', `${service}.yml`);
    // A build job for every service, and the committed file is what the template renders now.
    expect(existsSync(file), `${service} has no workflow at ${file}`).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text, `${file} is stale: run \`platformctl service upgrade ${service}\``).toBe(
      renderedWorkflow(platform, service),
    );
    const wf = parseYaml(text) as Workflow;
    const steps = wf.jobs.image?.steps ?? [];
    const at = (pred: (s: Step) => boolean) => steps.findIndex(pred);
    const build = at((s) => Boolean(s.uses?.startsWith('docker/build-push-action@')));
    const scan = at((s) => Boolean(s.uses?.startsWith('aquasecurity/trivy-action@')));
    const sbom = at((s) => Boolean(s.uses?.startsWith('anchore/sbom-action@')));
    const push = at((s) => /docker push/.test(s.run ?? ''));
    expect(build, `${service}: no build step`).toBeGreaterThanOrEqual(0);

    // The Dockerfile the build uses exists in the repository, built from its root.
    const buildWith = steps[build]?.with ?? {};
    expect(buildWith.context).toBe('.');
    expect(existsSync(join(platform.root, String(buildWith.file))), `${service}: ${buildWith.file}`).toBe(
      true,
    );

    // build (loaded into the runner's Docker, not pushed) → scan + SBOM of that image → push it.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: GitHub expressions, not JS templates
    const ref = '${{ env.IMAGE }}:${{ github.sha }}';
    expect(buildWith).toMatchObject({ load: true, push: false, tags: ref });
    expect(steps[scan]?.with?.['image-ref']).toBe(ref);
    expect(steps[sbom]?.with?.image).toBe(ref);
    expect(steps[push]?.run).toContain('docker push "$IMAGE:$GITHUB_SHA"');
    expect([build < scan, scan < sbom, sbom < push]).toEqual([true, true, true]);

    // What the workflow pushes is what every Kubernetes environment deploys (registry and name).
    const image = wf.env?.IMAGE as string;
    for (const r of renders)
      expect(
        imageOf(r.manifests[service] ?? [], service, r.env).replace(/:[^:/]+$/, ''),
        `${service} in ${r.env}`,
      ).toBe(image);

    // The GitOps bump pins the pushed tag in an overlay `gitops render` writes; built, that overlay
    // deploys exactly the pushed image.
    const bump = (wf.jobs['gitops-bump']?.steps ?? []).map((s) => s.run ?? '').join('\n');
    const m = /npx platformctl gitops promote (\S+) --to (\S+) --image-tag \$\{\{ github\.sha \}\}/.exec(
      bump,
    );
    expect(m, `${service}: the gitops-bump job does not promote the pushed tag:\n${bump}`).not.toBeNull();
    const [, promoted, target] = m as unknown as [string, string, string];
    expect(promoted).toBe(service);
    expect(envs).toContain(target);
    const overlay = join(gitopsDir, overlayPath(service, target));
    const pinned = readFileSync(overlay, 'utf8');
    writeFileSync(overlay, setPinnedTag(pinned, SHA));
    const built = parseAllDocuments((kz as Kustomize).build(dirname(overlay))).map(
      (d) => d.toJS() as KubeDoc,
    );
    writeFileSync(overlay, pinned);
    expect(imageOf(built, service, target)).toBe(`${image}:${SHA}`);
  }
}

describe.skipIf(!kz)('CI workflows and GitOps manifests from one platform.yaml', () => {
  it("this repository's platform: every service's workflow pushes what the manifests deploy", async () => {
    // Rendered in a copy of platform.yaml, so synth and gitops render write nothing into the checkout.
    const ws = workspace();
    try {
      copyFileSync(join(REPO_ROOT, 'platform.yaml'), join(ws.dir, 'platform.yaml'));
      const renders = await renderEnvironments(ws.dir);
      const platform = loadPlatform(REPO_ROOT, undefined, {});
      checkAgreement(platform, renders, join(ws.dir, 'gitops'), Object.keys(platform.config.services));
    } finally {
      ws.dispose();
    }
  }, 600_000);

  describe('a new platform made by init + service new (no --registry)', () => {
    let ws: ReturnType<typeof workspace>;
    beforeAll(async () => {
      ws = workspace();
      const init = ['init', '--no-input', '--name', 'acme-media', '--owner', 'ops', '--cloud', 'gcp'];
      expect((await runCli([...init, '--region', 'europe-west1'], { cwd: ws.dir })).exitCode).toBe(0);
      const r = await runCli(
        ['service', 'new', 'billing', '--template', 'node-http', '--owner', 'payments', '--no-input'],
        { cwd: ws.dir },
      );
      expect(r.exitCode, r.stderr).toBe(0);
    }, 60_000);
    afterAll(() => ws?.dispose());

    it('the scaffolded service pushes to the registry its manifests pull from', async () => {
      // The built-in services' code and Dockerfiles ship inside platformctl, not in this repository:
      // only the services whose code lives here have a workflow here.
      const platform = loadPlatform(ws.dir, undefined, {});
      const own = Object.entries(platform.config.services)
        .filter(([, s]) => !s.path.startsWith('builtin:'))
        .map(([name]) => name);
      expect(own).toEqual(['billing']);
      checkAgreement(platform, await renderEnvironments(ws.dir), join(ws.dir, 'gitops'), own);
    }, 600_000);

    it('refuses to guess when the Kubernetes environments pull from different registries', async () => {
      const file = join(ws.dir, 'platform.yaml');
      const yaml = readFileSync(file, 'utf8').replace(
        /(\n {2}prod:\n)/,
        '$1    registry: europe-docker.pkg.dev/acme-media/images\n',
      );
      writeFileSync(file, yaml);
      const r = await runCli(
        ['service', 'new', 'ledger', '--template', 'node-http', '--owner', 'payments', '--no-input'],
        { cwd: ws.dir },
      );
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/pull from different registries/);
      expect(r.stderr).toMatch(/hint: pass --registry/);
      expect(existsSync(join(ws.dir, 'services', 'ledger'))).toBe(false);
    });
  });
});

if (!kz) {
  describe('CI workflows and GitOps manifests from one platform.yaml', () => {
    it.skip('needs kustomize (Go to build it, or kubectl): neither is on this machine', () => {});
  });
}
