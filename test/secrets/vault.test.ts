import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsEnvFromBackend } from '../../src/secrets/inject.ts';
import { VaultBackend } from '../../src/secrets/vault.ts';
import { startVaultStandIn, type VaultStandIn } from './vault-standin.ts';

let vault: VaultStandIn;
beforeAll(async () => {
  vault = await startVaultStandIn();
});
afterAll(async () => {
  await vault.close();
});

const base = () => ({ address: vault.url, mount: 'secret', prefix: 'platformctl', approleMount: 'approle' });

describe('Vault KV v2 backend', () => {
  it('round-trips with a token: set, get, versions, list, rm', async () => {
    const b = new VaultBackend({ ...base(), token: vault.rootToken });
    const v1 = await b.set('dev', 'auth.JWT_KEY', 's3cr3t-one');
    const v2 = await b.set('dev', 'auth.JWT_KEY', 's3cr3t-two');
    expect([v1.version, v2.version]).toEqual([1, 2]);
    await b.set('dev', '*.SHARED', 'shared-value', { generated: { bytes: 32 } });
    expect(vault.kv.get('platformctl/dev/auth.JWT_KEY')?.at(-1)?.data).toEqual({ value: 's3cr3t-two' });
    const got = await b.get('dev', 'auth.JWT_KEY');
    expect(got).toMatchObject({ value: 's3cr3t-two', version: 2 });
    expect((await b.get('dev', '*.SHARED'))?.generated).toEqual({ bytes: 32 });
    expect(await b.get('dev', 'nope.X')).toBeUndefined();
    expect((await b.list('dev')).map((s) => [s.name, s.version])).toEqual([
      ['*.SHARED', 1],
      ['auth.JWT_KEY', 2],
    ]);
    expect(await b.list('staging')).toEqual([]);
    expect(await secretsEnvFromBackend(b, 'dev', 'auth')).toEqual({
      SHARED: 'shared-value',
      JWT_KEY: 's3cr3t-two',
    });
    expect(await b.rm('dev', 'auth.JWT_KEY')).toBe(true);
    expect(await b.rm('dev', 'auth.JWT_KEY')).toBe(false);
    expect(await b.get('dev', 'auth.JWT_KEY')).toBeUndefined();
    // Every KV request carried the token; writes used the KV v2 {data: {...}} envelope.
    const kvCalls = vault.requests.filter((r) => r.path.startsWith('/v1/secret/'));
    expect(kvCalls.every((r) => r.token === vault.rootToken)).toBe(true);
    expect(
      kvCalls.some((r) => r.method === 'GET' && r.path.endsWith('/metadata/platformctl/dev/?list=true')),
    ).toBe(true);
    expect(kvCalls.find((r) => r.method === 'POST')?.body).toEqual({ data: { value: 's3cr3t-one' } });
  });

  it('logs in with AppRole once and uses the returned token', async () => {
    const before = vault.requests.length;
    const b = new VaultBackend({ ...base(), roleId: vault.roleId, secretId: vault.secretId });
    await b.set('staging', 'content.KEY', 'v');
    expect((await b.get('staging', 'content.KEY'))?.value).toBe('v');
    const calls = vault.requests.slice(before);
    expect(calls.filter((r) => r.path === '/v1/auth/approle/login')).toHaveLength(1);
    expect(calls[0]?.body).toEqual({ role_id: vault.roleId, secret_id: vault.secretId });
    const token = calls[1]?.token;
    expect(token).toMatch(/^hvs\./);
    expect(token).not.toBe(vault.rootToken);
  });

  it('fails clearly on a bad token (403) and bad AppRole credentials', async () => {
    const bad = new VaultBackend({ ...base(), token: 'hvs.not-a-token' });
    await expect(bad.get('dev', 'a.B')).rejects.toMatchObject({ code: 'VAULT_FORBIDDEN' });
    const badRole = new VaultBackend({ ...base(), roleId: vault.roleId, secretId: 'wrong' });
    await expect(badRole.list('dev')).rejects.toMatchObject({
      code: 'VAULT_ERROR',
      message: expect.stringContaining('invalid role'),
    });
    const none = new VaultBackend(base());
    await expect(none.list('dev')).rejects.toMatchObject({ code: 'VAULT_AUTH_MISSING' });
  });

  it('reports an unreachable Vault', async () => {
    const b = new VaultBackend({ ...base(), address: 'http://127.0.0.1:1', token: 't' });
    await expect(b.get('dev', 'a.B')).rejects.toMatchObject({ code: 'VAULT_UNREACHABLE' });
  });
});
