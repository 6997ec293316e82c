/**
 * The validated-config cache (src/core/config/validated-cache.ts) through the built CLI, as users
 * run it: an unchanged platform.yaml is answered from `.platform/cache/`, and any change to the
 * file or to the PLATFORMCTL_* overrides is validated in full again — a broken file must never be
 * hidden behind an earlier success.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';

const VALID = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'config', 'valid.yaml'), 'utf8');
const DUPLICATE_PORT = readFileSync(
  join(REPO_ROOT, 'test', 'fixtures', 'config', 'duplicate-port.yaml'),
  'utf8',
);
const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

function project(yaml: string): { dir: string; cache: string } {
  const ws = workspace({ 'platform.yaml': yaml });
  disposers.push(ws.dispose);
  return { dir: ws.dir, cache: join(ws.dir, '.platform', 'cache', 'platform-config.json') };
}

describe('validated-config cache', () => {
  it('answers an unchanged file from the cache (what it holds is what commands see)', async () => {
    const { dir, cache } = project(VALID);
    const first = await runCli(['--json', 'config', 'show'], { cwd: dir });
    expect(first.exitCode).toBe(0);
    expect(existsSync(cache)).toBe(true);
    // Marking the cached copy proves the second run read it instead of re-validating the file.
    const entry = JSON.parse(readFileSync(cache, 'utf8'));
    entry.config.owner = 'from-the-cache';
    writeFileSync(cache, JSON.stringify(entry));
    const second = await runCli(['--json', 'config', 'show'], { cwd: dir });
    expect(JSON.parse(second.stdout).owner).toBe('from-the-cache');
  });

  it('validates a changed file in full: a broken edit fails, the fix passes again', async () => {
    const { dir } = project(VALID);
    expect((await runCli(['config', 'validate'], { cwd: dir })).exitCode).toBe(0);

    writeFileSync(join(dir, 'platform.yaml'), DUPLICATE_PORT);
    const broken = await runCli(['config', 'validate'], { cwd: dir });
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(/platform\.yaml:6:37: services\.auth\.port: port 8080 is already used/);
    // Failures are not cached: the same broken file fails again.
    expect((await runCli(['status'], { cwd: dir })).exitCode).toBe(2);

    writeFileSync(
      join(dir, 'platform.yaml'),
      `${VALID}  content: { path: builtin:content, port: 8082, routes: [/content] }\n`,
    );
    const fixed = await runCli(['config', 'validate'], { cwd: dir });
    expect(fixed.exitCode).toBe(0);
    expect(fixed.stdout).toContain('3 services (gateway, auth, content)');
  });

  it('keys on the PLATFORMCTL_* overrides: each set of overrides is validated', async () => {
    const { dir } = project(VALID);
    expect((await runCli(['config', 'validate'], { cwd: dir })).exitCode).toBe(0);
    const bad = await runCli(['config', 'validate'], {
      cwd: dir,
      env: { PLATFORMCTL_SERVICES__GATEWAY__PORT: 'abc' },
    });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^error: \$PLATFORMCTL_SERVICES__GATEWAY__PORT:1:1: services\.gateway\.port/m);
    const overridden = await runCli(['--json', 'config', 'show'], {
      cwd: dir,
      env: { PLATFORMCTL_SERVICES__GATEWAY__PORT: '9090' },
    });
    expect(JSON.parse(overridden.stdout).services.gateway.port).toBe(9090);
    const plain = await runCli(['--json', 'config', 'show'], { cwd: dir });
    expect(JSON.parse(plain.stdout).services.gateway.port).toBe(8080);
  });

  it('ignores an entry another build wrote, and a damaged cache file', async () => {
    const { dir, cache } = project(VALID);
    expect((await runCli(['config', 'validate'], { cwd: dir })).exitCode).toBe(0);
    const entry = JSON.parse(readFileSync(cache, 'utf8'));
    writeFileSync(
      cache,
      JSON.stringify({ key: `${entry.key.slice(0, -1)}0`, config: { ...entry.config, owner: 'stale' } }),
    );
    const other = await runCli(['--json', 'config', 'show'], { cwd: dir });
    expect(JSON.parse(other.stdout).owner).toBeUndefined();

    writeFileSync(cache, '{ not json');
    const damaged = await runCli(['config', 'validate'], { cwd: dir });
    expect(damaged.exitCode).toBe(0);
    expect(JSON.parse(readFileSync(cache, 'utf8')).key).toBe(entry.key);
  });
});
