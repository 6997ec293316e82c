import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { runCli, workspace } from '../helpers/cli.ts';
import { startVaultStandIn, type VaultStandIn } from './vault-standin.ts';

const SECRET = `vault-e2e-${randomBytes(10).toString('hex')}`;
let vault: VaultStandIn;
const ws = workspace({
  'platform.yaml': `${renderPlatformYaml({ name: 'acme', owner: 'platform', cloud: 'aws', region: 'eu-west-1' })}
secrets:
  backend: vault
  vault:
    mount: secret
    prefix: teams/platform
`,
});

beforeAll(async () => {
  vault = await startVaultStandIn('secret');
});
afterAll(async () => {
  await vault.close();
  ws.dispose();
});

describe('platformctl secrets with the Vault backend (e2e)', () => {
  it('logs in with AppRole from the environment and round-trips through KV v2', async () => {
    const env = {
      VAULT_ADDR: vault.url,
      VAULT_ROLE_ID: vault.roleId,
      VAULT_SECRET_ID: vault.secretId,
      VAULT_TOKEN: undefined,
    };
    const set = await runCli(['secrets', 'set', 'content.API_KEY'], { cwd: ws.dir, env, input: SECRET });
    expect(set.stderr).toBe('');
    expect(set.exitCode).toBe(0);
    expect(vault.kv.get('teams/platform/dev/content.API_KEY')?.at(-1)?.data).toEqual({ value: SECRET });
    const list = await runCli(['secrets', 'list', '--json'], { cwd: ws.dir, env });
    expect(JSON.parse(list.stdout)).toMatchObject({
      backend: 'vault',
      secrets: [{ name: 'content.API_KEY', version: 1 }],
    });
    const get = await runCli(['secrets', 'get', 'content.API_KEY'], { cwd: ws.dir, env });
    expect(get.stdout).toContain('content.API_KEY=***');
    const reveal = await runCli(['secrets', 'get', 'content.API_KEY', '--reveal'], { cwd: ws.dir, env });
    expect(reveal.stdout).toBe(`${SECRET}\n`);
    for (const r of [set, list, get]) expect(r.stdout + r.stderr).not.toContain(SECRET);
    // No local store or key is created when Vault is the backend.
    const local = await runCli(['secrets', 'list', '--backend', 'local', '--json'], { cwd: ws.dir });
    expect(JSON.parse(local.stdout).secrets).toEqual([]);
  });

  it('explains a rejected token', async () => {
    const r = await runCli(['secrets', 'get', 'content.API_KEY'], {
      cwd: ws.dir,
      env: { VAULT_ADDR: vault.url, VAULT_TOKEN: 'hvs.wrong' },
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/error: Vault denied GET .* \(403: permission denied\)/);
    expect(r.stderr).toContain('hint:');
  });
});
