/**
 * The README's set-up and tour, run as written on a fresh checkout-like directory: the commands
 * are extracted from README.md (the text users read), each line runs through `sh -c` in order, and
 * the test fails when a step fails, or when it only works after a step the README does not show
 * (the canary that never promoted without traffic, the deploy of a version `release build` did not
 * make). Exit codes a line documents in its comment (`# … (exit 4)`) are accepted, except for the
 * deploy, which must promote.
 *
 * Stand-ins, and why: `npm ci` is replaced by linking this checkout's node_modules and running the
 * `prepare` script it would run (a real install builds native addons for minutes; the Node gate
 * and npm ci are tested in node-gate.test.ts; PLATFORMCTL_TOUR_NPM_CI=1 runs the real one), and
 * `npm test` is this suite. Ports come from PLATFORMCTL_SERVICES__<NAME>__PORT, the documented
 * overrides, so the tour never collides with whatever else runs on the machine.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, isPortFree } from '../../src/core/ports.ts';
import { sleep } from '../../src/core/sleep.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { runShell, type ShellRun, shBlock } from '../helpers/shell.ts';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const SERVICES = ['gateway', 'auth', 'content', 'analytics'];

/** The files a fresh clone has: what git tracks, plus untracked files not ignored (work in progress). */
function checkout(dir: string): void {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: REPO_ROOT })
    .toString()
    .split('\0')
    .filter((f) => f && !f.startsWith('node_modules/'));
  execFileSync('tar', ['-cf', join(dir, '..', 'checkout.tar'), '--null', '-T', '-'], {
    cwd: REPO_ROOT,
    input: files.join('\0'),
  });
  execFileSync('tar', ['-xf', join(dir, '..', 'checkout.tar')], { cwd: dir });
}

describe('the README tour', () => {
  const base = mkdtempSync(join(tmpdir(), 'platformctl-tour-'));
  const dir = join(base, 'platformctl');
  mkdirSync(dir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The first `node` and `npm` on PATH are the ones this suite runs on, as for a user with nvm.
    PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`,
    npm_config_cache: join(base, 'npm-cache'),
    CI: 'true',
  };
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && k !== 'npm_config_cache') delete env[k];
  for (const k of ['VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'NODE_OPTIONS']) delete env[k];
  const log: string[] = [];

  /** Runs one README line as a user's shell would; stops it (and its group) on timeout. */
  async function sh(command: string, timeoutMs = 600_000): Promise<ShellRun> {
    const ran = await runShell(command, { shell: 'sh', cwd: dir, env, timeoutMs });
    log.push(`${command}  → exit ${ran.code} in ${ran.seconds.toFixed(1)}s`);
    return ran;
  }

  afterAll(async () => {
    await sh('node bin/platformctl down', 60_000);
    console.error(`tour steps:\n  ${log.join('\n  ')}`);
    rmSync(base, { recursive: true, force: true });
  }, 120_000);

  it('set up: the install builds the CLI and `npx platformctl up` runs the platform until Ctrl-C', async () => {
    checkout(dir);
    const ports: number[] = [];
    while (ports.length < SERVICES.length) {
      const p = await freePort();
      if (!ports.includes(p) && p + 1000 < 65_000 && (await isPortFree(p + 1000))) ports.push(p);
    }
    SERVICES.forEach((s, i) => {
      env[`PLATFORMCTL_SERVICES__${s.toUpperCase()}__PORT`] = String(ports[i]);
    });

    const setup = shBlock(README, '## Set up', 'README.md').map((s) => s.command);
    // The block this test knows how to run; a changed set-up needs this test changed with it.
    expect(setup).toEqual(['npm ci && npx platformctl up', 'npm test']);
    if (process.env.PLATFORMCTL_TOUR_NPM_CI === '1') {
      const ci = await sh('npm ci --no-audit --no-fund');
      expect(ci.code, ci.stderr).toBe(0);
    } else {
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
      const prepare = await sh('npm run prepare');
      expect(prepare.code, prepare.stderr).toBe(0);
    }

    const up = spawn('sh', ['-c', 'npx platformctl up'], { cwd: dir, env, detached: true });
    let err = '';
    up.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number>((resolve) => up.on('close', (code) => resolve(code ?? 128)));
    for (let i = 0; i < 1200 && !err.includes('the platform is up'); i++) await sleep(250);
    expect(err).toContain('the platform is up');
    // Ctrl-C: the terminal sends SIGINT to the foreground process group (here sh, npx and
    // platformctl; sh itself dies of it, so its exit code says nothing about platformctl's).
    process.kill(-(up.pid as number), 'SIGINT');
    await exited;
    expect(err).toContain('stopped every service');
    expect(existsSync(join(dir, '.platform', 'state.json'))).toBe(false);
  }, 600_000);

  it('the tour: every line works as written, and the canary promotes', async () => {
    const steps = shBlock(README, '## A tour', 'README.md');
    expect(steps.length).toBeGreaterThan(10);
    for (const step of steps) {
      const r = await sh(step.command);
      const what = `\`${step.command}\` exited ${r.code}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`;
      if (/ deploy /.test(step.command)) {
        expect(r.code, what).toBe(0);
        expect(r.stdout, what).toMatch(/promoted: 100% of traffic/);
      } else {
        expect([0, ...step.documented], what).toContain(r.code);
      }
    }
  }, 1_800_000);
});
