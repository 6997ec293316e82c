import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli, workspace } from '../helpers/cli.ts';
import { runInPty } from '../helpers/pty.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});
function tempDir(): string {
  const ws = workspace();
  disposers.push(ws.dispose);
  return ws.dir;
}

const FLAGS = ['--name', 'acme', '--owner', 'platform-team', '--cloud', 'gcp', '--region', 'europe-west1'];

describe('platformctl init', () => {
  it('writes a valid platform.yaml from flags with --no-input', async () => {
    const cwd = tempDir();
    const r = await runCli(['init', '--no-input', ...FLAGS], { cwd });
    expect(r.exitCode).toBe(0);
    const doc = parse(readFileSync(join(cwd, 'platform.yaml'), 'utf8'));
    expect(Object.keys(doc.services)).toEqual(['gateway', 'auth', 'content', 'analytics']);
    expect(Object.keys(doc.environments)).toEqual(['dev', 'staging', 'prod']);
    expect(doc.environments.prod).toMatchObject({ cloud: 'gcp', region: 'europe-west1', protected: true });
    expect(doc.environments.prod.extraRegions.length).toBeGreaterThan(0);
    const v = await runCli(['config', 'validate'], { cwd });
    expect(v.exitCode).toBe(0);
  });

  it('in CI a missing value is an error naming the flag (exit 2), never a hang', async () => {
    const cwd = tempDir();
    const r = await runCli(['init', '--name', 'acme'], { cwd, env: { CI: 'true' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/missing owning team: pass --owner/);
    expect(existsSync(join(cwd, 'platform.yaml'))).toBe(false);
  });

  it('rejects an invalid --cloud with exit 2', async () => {
    const r = await runCli(['init', '--no-input', '--cloud', 'ibm'], { cwd: tempDir() });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are aws, azure, gcp/);
  });

  it('refuses to overwrite without --force', async () => {
    const cwd = tempDir();
    expect((await runCli(['init', '--no-input', ...FLAGS], { cwd })).exitCode).toBe(0);
    const again = await runCli(['init', '--no-input', ...FLAGS], { cwd });
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/already exists/);
    expect(again.stderr).toMatch(/--force/);
    expect((await runCli(['init', '--no-input', '--force', ...FLAGS], { cwd })).exitCode).toBe(0);
  });

  it('--json reports what it wrote', async () => {
    const cwd = tempDir();
    const r = await runCli(['--json', 'init', '--no-input', ...FLAGS], { cwd });
    expect(JSON.parse(r.stdout)).toMatchObject({
      name: 'acme',
      cloud: 'gcp',
      file: join(cwd, 'platform.yaml'),
    });
  });

  it('keeps .platform/ (master key, secrets, audit log) out of git', async () => {
    const cwd = tempDir();
    execFileSync('git', ['init', '-q'], { cwd });
    writeFileSync(join(cwd, '.gitignore'), 'node_modules');
    expect((await runCli(['init', '--no-input', ...FLAGS], { cwd })).exitCode).toBe(0);
    mkdirSync(join(cwd, '.platform'), { recursive: true });
    writeFileSync(join(cwd, '.platform', 'master.key'), 'k');
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], {
      cwd,
      encoding: 'utf8',
    });
    expect(status.split('\n').filter(Boolean).sort()).toEqual([
      '?? .dockerignore',
      '?? .gitignore',
      '?? .nvmrc',
      '?? package.json',
      '?? platform.yaml',
    ]);
    // The user's own lines stay; a second init does not add the pattern twice.
    expect((await runCli(['init', '--no-input', '--force', ...FLAGS], { cwd })).exitCode).toBe(0);
    const ignore = readFileSync(join(cwd, '.gitignore'), 'utf8');
    expect(ignore.startsWith('node_modules\n')).toBe(true);
    expect(ignore.match(/\.platform/g)).toHaveLength(1);
    expect(ignore.match(/node_modules/g)).toHaveLength(1);
  });

  it('keeps node_modules out of git in a fresh repository (init writes a package.json)', async () => {
    const cwd = tempDir();
    execFileSync('git', ['init', '-q'], { cwd });
    expect((await runCli(['init', '--no-input', ...FLAGS], { cwd })).exitCode).toBe(0);
    mkdirSync(join(cwd, 'node_modules', 'platformctl'), { recursive: true });
    writeFileSync(join(cwd, 'node_modules', 'platformctl', 'package.json'), '{}');
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=all'], {
      cwd,
      encoding: 'utf8',
    });
    expect(status).not.toMatch(/node_modules/);
    expect(status).toMatch(/\?\? \.gitignore/);
  });

  it('leaves an existing package.json alone, and says so when platformctl is only a devDependency', async () => {
    const cwd = tempDir();
    const own = `${JSON.stringify({ name: 'mine', devDependencies: { platformctl: '^0.1.0' } })}\n`;
    writeFileSync(join(cwd, 'package.json'), own);
    const r = await runCli(['init', '--no-input', ...FLAGS], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readFileSync(join(cwd, 'package.json'), 'utf8')).toBe(own);
    // The service images prune dev dependencies: the runtime they bundle against would go with them.
    expect(r.stderr).toMatch(/platformctl is a devDependency/);
    expect(r.stderr).toMatch(/hint: run `npm install --save-prod platformctl`/);
    expect(existsSync(join(cwd, '.nvmrc'))).toBe(true);
  });

  it('asks the questions on a real terminal', async () => {
    const cwd = tempDir();
    const r = await runInPty(['init'], cwd, [
      { expect: /Platform name/, send: '\u0015acme-tty\r' },
      { expect: /Owning team/, send: 'media-team\r' },
      { expect: /Cloud/, send: '\u001b[B\r' },
      { expect: /Primary region/, send: '\r' },
    ]);
    expect(r.exitCode, r.output).toBe(0);
    const doc = parse(readFileSync(join(cwd, 'platform.yaml'), 'utf8'));
    expect(doc).toMatchObject({ name: 'acme-tty', owner: 'media-team' });
    expect(doc.environments.dev).toMatchObject({ cloud: 'azure', region: 'westeurope' });
  });
});
