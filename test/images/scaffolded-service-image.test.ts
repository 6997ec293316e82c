/**
 * A service scaffolded into a new platform repository builds and starts the way its own files say:
 * in a project made by `init` + `npm install` + `service new` (test/helpers/platform-project.ts),
 * the generated workflow's test job (install, lint, tests) passes, and the service's Dockerfile,
 * built step by step as written (test/helpers/dockerfile.ts), starts its CMD with the environment
 * the manifests give the container until `/healthz` and `/readyz` answer.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadPlatform } from '../../src/core/config/load.ts';
import {
  type BuiltImage,
  buildDockerfile,
  imageHas,
  type StartedImage,
  startImage,
} from '../helpers/dockerfile.ts';
import { freePort, manifestEnv, probesAnswer } from '../helpers/image-run.ts';
import { type PlatformProject, platformProject } from '../helpers/platform-project.ts';

const SERVICE = 'billing';
let project: PlatformProject;
let image: BuiltImage | undefined;
let started: StartedImage | undefined;

beforeAll(async () => {
  project = await platformProject({ name: 'acme-media', service: SERVICE, template: 'node-http' });
}, 600_000);
// Two node_modules trees to delete: slow on a busy machine.
afterAll(async () => {
  await started?.stop();
  image?.dispose();
  project?.dispose();
}, 300_000);

describe('a service scaffolded into a new platform repository', () => {
  it('gets from init what its Dockerfile and workflow read: package.json, .nvmrc, .dockerignore', () => {
    const pkg = project.initPackageJson as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    // The image prunes dev dependencies: the runtime kit the service runs on must survive that.
    expect(pkg.dependencies?.platformctl).toMatch(/^\^\d+\.\d+\.\d+$/);
    expect(pkg.devDependencies?.platformctl).toBeUndefined();
    // The workflow's test job runs `npx biome check .` and `npx vitest run` from the project.
    expect(Object.keys(pkg.devDependencies ?? {}).sort()).toEqual(['@biomejs/biome', 'vitest']);
    expect(readFileSync(join(project.dir, '.nvmrc'), 'utf8').trim()).toMatch(/^\d+$/);
    const ignore = readFileSync(join(project.dir, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['node_modules', '.platform']));
    expect(project.initFiles.map((f) => f.slice(project.dir.length + 1)).sort()).toEqual([
      '.dockerignore',
      '.nvmrc',
      'package.json',
    ]);
  });

  it("runs the platformctl it installed, as the workflow's `npx platformctl` steps do", () => {
    // The package as npm installs it, not this checkout: what `files` ships must be enough to run.
    const npx = (args: string[]) =>
      execFileSync('npx', ['--no-install', 'platformctl', ...args], {
        cwd: project.dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      });
    expect(existsSync(join(project.dir, 'node_modules', 'platformctl', 'dist'))).toBe(true);
    expect(existsSync(join(project.dir, 'node_modules', 'platformctl', 'test'))).toBe(false);
    expect(npx(['config', 'validate'])).toMatch(/4 services|5 services/);
    const render = JSON.parse(
      npx([
        '--json',
        'gitops',
        'render',
        '--env',
        'staging',
        '--repo-url',
        'https://github.com/acme/acme-media.git',
      ]),
    );
    expect(JSON.stringify(render)).toContain(SERVICE);
    expect(existsSync(join(project.dir, 'gitops', 'services', SERVICE, 'overlays', 'staging'))).toBe(true);
  }, 120_000);

  it("passes its workflow's test job: npm ci, lint and tests as the workflow runs them", () => {
    const wf = parseYaml(readFileSync(join(project.dir, '.github', 'workflows', `${SERVICE}.yml`), 'utf8'));
    const steps = (wf.jobs.test.steps as { run?: string; 'working-directory'?: string }[]).filter(
      (s) => s.run,
    );
    expect(steps.map((s) => s.run)).toEqual([
      'npm ci',
      'npx biome check .',
      `npx vitest run --root services/${SERVICE}`,
    ]);
    for (const step of steps) {
      try {
        execFileSync('bash', ['-c', step.run as string], {
          cwd: join(project.dir, step['working-directory'] ?? '.'),
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 10 * 60_000,
          env: {
            ...process.env,
            CI: 'true',
            NO_COLOR: '1',
            npm_config_audit: 'false',
            npm_config_fund: 'false',
          },
        });
      } catch (err) {
        const e = err as { stdout?: Buffer; stderr?: Buffer };
        throw new Error(`\`${step.run}\` failed:\n${e.stdout?.toString()}${e.stderr?.toString()}`);
      }
    }
  }, 600_000);

  it("builds as its Dockerfile says and its CMD answers /healthz and /readyz with the manifests' env", async () => {
    const steps: string[] = [];
    // The project's lockfile changes with every pack of this checkout: no shared layer cache.
    image = buildDockerfile(join(project.dir, 'services', SERVICE, 'Dockerfile'), project.dir, {
      log: (l) => steps.push(l),
      layerCache: false,
    });
    expect(steps.some((s) => s.includes('npm prune --omit=dev'))).toBe(true);
    // What the runtime stage runs on is still there after the prune.
    expect(imageHas(image, image.runtime, '/app/node_modules/platformctl/runtime/lib/index.ts')).toBe(true);
    expect(imageHas(image, image.runtime, '/app/node_modules/better-sqlite3/package.json')).toBe(true);
    // .dockerignore kept the state directory (master key, audit log) out of `COPY . .`.
    const build = image.stages[0] as BuiltImage['runtime'];
    expect(existsSync(join(project.dir, '.platform'))).toBe(true);
    expect(imageHas(image, build, '/src/services')).toBe(true);
    expect(imageHas(image, build, '/src/.platform')).toBe(false);

    const env = manifestEnv(loadPlatform(project.dir, undefined, {}), 'staging', SERVICE);
    env.PORT = String(await freePort());
    env.HOST = '127.0.0.1';
    env.DATA_DIR = image.hostPath(image.runtime, env.DATA_DIR ?? '/data');
    started = startImage(image, env);
    const ok = await probesAnswer(started.url);
    expect(ok, `${SERVICE} did not become ready; its output:\n${started.logs()}`).toBe(true);
  }, 300_000);
});
