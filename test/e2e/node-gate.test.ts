/**
 * The Node version gate, run for real with an older Node (the machine's /usr/bin/node, or the one
 * PLATFORMCTL_TEST_OLD_NODE names): `npm ci`, `npx platformctl` and the launcher must each stop at
 * once with the required version and a way to get it, and a failed npx on the old Node must not
 * leave a broken npx cache behind for the next, supported Node.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import semver from 'semver';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT } from '../helpers/cli.js';

const require = createRequire(import.meta.url);
const gate = require('../../scripts/check-node.cjs') as {
  satisfies(version: string, range: string): boolean;
  requiredRange(): string;
};
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
};

/** An installed Node that platformctl does not support, or undefined. */
function findOldNode(): string | undefined {
  const candidate = process.env.PLATFORMCTL_TEST_OLD_NODE ?? '/usr/bin/node';
  if (!existsSync(candidate)) return undefined;
  const version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  return semver.satisfies(version.trim(), pkg.engines.node) ? undefined : candidate;
}

/** npm's own entry scripts, found through the `npm` on PATH. */
function npmScripts(): { npm: string; npx: string } | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const npm = join(dir, 'npm');
    if (!existsSync(npm)) continue;
    const cliDir = dirname(realpathSync(npm));
    return { npm: join(cliDir, 'npm-cli.js'), npx: join(cliDir, 'npx-cli.js') };
  }
  return undefined;
}

describe('the version range', () => {
  it('is written once, in package.json, and the gate reads it from there', () => {
    expect(gate.requiredRange()).toBe(pkg.engines.node);
  });

  it('agrees with semver on the versions around each floor', () => {
    for (const v of ['20.20.2', '22.18.0', '22.22.1', '22.22.2', '23.11.0', '24.14.9', '24.15.0', '26.1.0']) {
      expect(gate.satisfies(v, pkg.engines.node), v).toBe(semver.satisfies(v, pkg.engines.node));
    }
  });

  it('admits no Node that a locked dependency refuses (engine-strict would stop npm ci there)', () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string }; optional?: boolean }>;
    };
    const floors = pkg.engines.node.split('||').map((part) => semver.minVersion(part.trim())?.version ?? '');
    for (const [name, entry] of Object.entries(lock.packages)) {
      const range = entry.engines?.node;
      if (!range || entry.optional) continue;
      for (const floor of floors) expect(semver.satisfies(floor, range), `${name} needs ${range}`).toBe(true);
    }
  });

  it('.nvmrc and .node-version name a supported Node', () => {
    for (const file of ['.nvmrc', '.node-version']) {
      const wanted = readFileSync(join(REPO_ROOT, file), 'utf8').trim();
      const version = semver.coerce(wanted)?.version ?? '';
      // A bare major ("24") means its newest release, which is what nvm installs.
      const newest = /^\d+$/.test(wanted) ? `${wanted}.999.0` : version;
      expect(semver.satisfies(newest, pkg.engines.node), `${file}: ${wanted}`).toBe(true);
    }
  });
});

const oldNode = findOldNode();
const scripts = npmScripts();
const why = !oldNode
  ? 'no Node older than engines.node is installed (set PLATFORMCTL_TEST_OLD_NODE to one)'
  : 'npm is not on PATH';

describe.skipIf(!oldNode || !scripts)(`on an unsupported Node (${oldNode ?? why})`, () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A checkout-like directory: the files npm and the launcher read, the installed dependencies. */
  function checkout(withDependencies: boolean): string {
    const dir = mkdtempSync(join(tmpdir(), 'platformctl-node-gate-'));
    dirs.push(dir);
    for (const f of ['package.json', 'package-lock.json', '.npmrc', '.nvmrc', 'bin', 'scripts']) {
      cpSync(join(REPO_ROOT, f), join(dir, f), { recursive: true });
    }
    if (withDependencies) {
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
      symlinkSync(join(REPO_ROOT, 'src'), join(dir, 'src'));
      symlinkSync(join(REPO_ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
    }
    return dir;
  }

  /** Runs one of npm's scripts with `node` first on PATH, and a private npm cache. */
  function npm(node: string, script: string, args: string[], cwd: string, cache: string) {
    const binDir = mkdtempSync(join(tmpdir(), 'platformctl-node-bin-'));
    dirs.push(binDir);
    symlinkSync(node, join(binDir, 'node'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${binDir}${delimiter}${process.env.PATH}`,
      npm_config_cache: cache,
    };
    for (const k of Object.keys(env)) if (k.startsWith('npm_') && k !== 'npm_config_cache') delete env[k];
    return spawnSync(node, [script, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  }

  it('the launcher names the required version and how to get it, in one line, exit 2', () => {
    const r = spawnSync(oldNode as string, [BIN, 'status'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('22.22.2');
    expect(r.stderr).toContain('24.15.0');
    expect(r.stderr).toContain('nvm install');
  });

  it('npm ci stops before installing anything and names the required version', () => {
    const dir = checkout(false);
    const cache = join(dir, '.npm-cache');
    const r = npm(
      oldNode as string,
      (scripts as { npm: string }).npm,
      ['ci', '--no-audit', '--no-fund'],
      dir,
      cache,
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('EBADENGINE');
    expect(r.stderr).toContain(pkg.engines.node);
    expect(r.stderr).not.toContain('ERR_UNKNOWN_FILE_EXTENSION');
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
  });

  it('npx platformctl fails clearly, and the next npx on a supported Node works (no broken cache)', () => {
    const dir = checkout(true);
    const cache = join(dir, '.npm-cache');
    mkdirSync(cache);
    const { npx } = scripts as { npx: string };
    const old = npm(oldNode as string, npx, ['platformctl', '--version'], dir, cache);
    expect(old.status).not.toBe(0);
    expect(old.stderr).toContain(pkg.engines.node);

    const now = npm(process.execPath, npx, ['platformctl', '--version'], dir, cache);
    expect(now.stderr).not.toContain('Could not read package.json');
    expect(now.status).toBe(0);
    expect(now.stdout.trim()).toBe(pkg.version);
  });
});
