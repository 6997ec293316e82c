import { randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { type CliResult, runCli, workspace } from '../helpers/cli.ts';

const SECRET = `e2e-${randomBytes(12).toString('hex')}`;
const ws = workspace({
  'platform.yaml': renderPlatformYaml({ name: 'acme', owner: 'platform', cloud: 'aws', region: 'eu-west-1' }),
});
const outputs: CliResult[] = [];
const cli = async (
  args: string[],
  opts: { input?: string; env?: Record<string, string | undefined> } = {},
) => {
  const r = await runCli(args, {
    cwd: ws.dir,
    env: { PLATFORMCTL_MASTER_KEY: undefined, ...opts.env },
    input: opts.input,
  });
  outputs.push(r);
  return r;
};

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

afterAll(() => ws.dispose());

describe('platformctl secrets (e2e)', () => {
  beforeAll(async () => {
    const r = await cli(['secrets', 'set', 'auth.JWT_SIGNING_KEY'], { input: `${SECRET}\n` });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('stored auth.JWT_SIGNING_KEY (version 1)');
  });

  it('masks on get, reveals with --reveal, lists names only', async () => {
    const masked = await cli(['secrets', 'get', 'auth.JWT_SIGNING_KEY']);
    expect(masked.exitCode).toBe(0);
    expect(masked.stdout).toContain('auth.JWT_SIGNING_KEY=***');
    const json = await cli(['secrets', 'get', 'auth.JWT_SIGNING_KEY', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ value: '***', revealed: false, version: 1 });
    const revealed = await runCli(['secrets', 'get', 'auth.JWT_SIGNING_KEY', '--reveal'], { cwd: ws.dir });
    expect(revealed.stdout).toBe(`${SECRET}\n`);
    const list = await cli(['secrets', 'list', '--json']);
    expect(JSON.parse(list.stdout).secrets).toEqual([
      expect.objectContaining({ name: 'auth.JWT_SIGNING_KEY', version: 1, injectedInto: 'auth' }),
    ]);
  });

  it('writes the store and key file 0600 and refuses a loose key file', async () => {
    const store = join(ws.dir, '.platform/secrets/dev.json');
    const key = join(ws.dir, '.platform/master.key');
    expect(statSync(store).mode & 0o777).toBe(0o600);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    chmodSync(key, 0o640);
    const r = await cli(['secrets', 'get', 'auth.JWT_SIGNING_KEY']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/refusing to use \.platform\/master\.key/);
    expect(r.stderr).toContain('chmod 600 .platform/master.key');
    chmodSync(key, 0o600);
  });

  it('fails clearly with the wrong master key', async () => {
    const r = await cli(['secrets', 'get', 'auth.JWT_SIGNING_KEY'], {
      env: { PLATFORMCTL_MASTER_KEY: randomBytes(32).toString('base64') },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error: .*wrong master key/);
    expect(r.stderr).toMatch(/hint: /);
  });

  it('never takes a value from argv and rejects an empty value', async () => {
    const flag = await cli(['secrets', 'set', 'auth.X', '--value', 'nope']);
    expect(flag.exitCode).toBe(2);
    const empty = await cli(['secrets', 'set', 'auth.X'], { input: '' });
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('the value is empty');
  });

  it('generates, rotates a generated secret, refuses to rotate a hand-set one, rotates the master key', async () => {
    expect((await cli(['secrets', 'set', '*.SESSION_SECRET', '--generate'])).exitCode).toBe(0);
    expect((await cli(['secrets', 'rotate', '*.SESSION_SECRET'])).stdout).toContain('version 2');
    const manual = await cli(['secrets', 'rotate', 'auth.JWT_SIGNING_KEY']);
    expect(manual.exitCode).toBe(2);
    expect(manual.stderr).toContain('set by hand');
    const rotated = await cli(['secrets', 'rotate']);
    expect(rotated.exitCode).toBe(0);
    expect(rotated.stdout).toMatch(/re-encrypted 2 secret\(s\)/);
    const again = await runCli(['secrets', 'get', 'auth.JWT_SIGNING_KEY', '--reveal'], { cwd: ws.dir });
    expect(again.stdout).toBe(`${SECRET}\n`);
  });

  it('refuses a protected environment without --allow-prod', async () => {
    const r = await cli(['secrets', 'set', 'auth.X', '--env', 'prod', '--yes'], { input: 'v' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--allow-prod');
  });

  it('renders ExternalSecret manifests from the names of an environment', async () => {
    const r = await cli([
      'secrets',
      'render-external',
      '--env',
      'prod',
      '--store',
      'vault',
      '--names-from',
      'dev',
      '--out',
      '-',
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('apiVersion: external-secrets.io/v1');
    expect(r.stdout).toContain('kind: SecretStore');
    expect(r.stdout).toContain('name: auth-secrets');
    expect(r.stdout).toContain('key: platformctl/prod/auth.JWT_SIGNING_KEY');
    expect(r.stdout).toContain('key: platformctl/prod/_shared.SESSION_SECRET');
  });

  it('never leaks the value into outputs, the audit log or other state files', async () => {
    const audit = readFileSync(join(ws.dir, '.platform/audit.log'), 'utf8');
    const records = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.some((r) => r.command === 'secrets set' && r.result === 'ok')).toBe(true);
    expect(records.some((r) => r.command === 'secrets rotate')).toBe(true);
    for (const o of outputs) {
      expect(o.stdout).not.toContain(SECRET);
      expect(o.stderr).not.toContain(SECRET);
    }
    for (const f of allFiles(ws.dir)) expect(readFileSync(f, 'utf8'), f).not.toContain(SECRET);
  });
});
