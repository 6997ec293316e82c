import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { secretsEnvFor } from '../../src/secrets/inject.ts';
import { LocalBackend, storePath } from '../../src/secrets/local-store.ts';
import { keyFilePath } from '../../src/secrets/master-key.ts';
import { rotateMasterKey } from '../../src/secrets/rotate.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'pctl-secrets-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const mode = (f: string) => statSync(f).mode & 0o777;
const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('hex');

describe('local encrypted store', () => {
  it('round-trips any value and keeps only ciphertext on disk', async () => {
    const b = new LocalBackend(root, {});
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 200 }), async (value) => {
        await b.set('dev', 'auth.VALUE', value);
        expect((await b.get('dev', 'auth.VALUE'))?.value).toBe(value);
      }),
      { numRuns: 25 },
    );
    await b.set('dev', 'auth.JWT_KEY', 'hunter2-plaintext-marker');
    const disk = readFileSync(storePath(root, 'dev'), 'utf8');
    expect(disk).not.toContain('hunter2-plaintext-marker');
    expect(disk).toContain('auth.JWT_KEY');
    const entry = JSON.parse(disk).secrets['auth.JWT_KEY'];
    expect(Buffer.from(entry.nonce, 'base64')).toHaveLength(12);
  });

  it('creates the store and the key file with mode 0600', async () => {
    await new LocalBackend(root, {}).set('dev', 'a.B', 'x');
    expect(mode(storePath(root, 'dev'))).toBe(0o600);
    expect(mode(keyFilePath(root))).toBe(0o600);
    expect(mode(join(root, '.platform/secrets'))).toBe(0o700);
  });

  it('refuses a key file others can read, with a chmod hint', async () => {
    await new LocalBackend(root, {}).set('dev', 'a.B', 'x');
    chmodSync(keyFilePath(root), 0o644);
    await expect(new LocalBackend(root, {}).get('dev', 'a.B')).rejects.toMatchObject({
      code: 'SECRETS_KEY_PERMISSIONS',
      hint: expect.stringContaining('chmod 600'),
    });
  });

  it('fails clearly with the wrong key, before and after the key-id check', async () => {
    await new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: KEY_A }).set('dev', 'a.B', 'x');
    await expect(
      new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: KEY_B }).get('dev', 'a.B'),
    ).rejects.toMatchObject({
      code: 'SECRETS_WRONG_KEY',
      message: expect.stringContaining('wrong master key'),
    });
    // Forge the fingerprint: GCM authentication still refuses the value.
    const file = storePath(root, 'dev');
    const store = JSON.parse(readFileSync(file, 'utf8'));
    const { keyId } = await import('../../src/secrets/crypto.ts');
    store.keyId = keyId(Buffer.from(KEY_B, 'hex'));
    writeFileSync(file, JSON.stringify(store));
    await expect(
      new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: KEY_B }).get('dev', 'a.B'),
    ).rejects.toMatchObject({
      code: 'SECRETS_WRONG_KEY',
    });
  });

  it('binds each ciphertext to its env and name (moved ciphertext does not decrypt)', async () => {
    const b = new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: KEY_A });
    await b.set('dev', 'a.ONE', 'one');
    await b.set('dev', 'a.TWO', 'two');
    const file = storePath(root, 'dev');
    const store = JSON.parse(readFileSync(file, 'utf8'));
    store.secrets['a.TWO'] = { ...store.secrets['a.ONE'] };
    writeFileSync(file, JSON.stringify(store));
    await expect(b.get('dev', 'a.TWO')).rejects.toMatchObject({ code: 'SECRETS_WRONG_KEY' });
  });

  it('rejects a malformed PLATFORMCTL_MASTER_KEY', async () => {
    await expect(
      new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: 'short' }).set('dev', 'a.B', 'x'),
    ).rejects.toMatchObject({
      code: 'SECRETS_BAD_KEY',
    });
  });

  it('rotates the key file: every env re-encrypted, old key no longer works', async () => {
    const b = new LocalBackend(root, {});
    await b.set('dev', 'a.B', 'dev-value');
    await b.set('staging', '*.C', 'staging-value');
    const oldKey = readFileSync(keyFilePath(root), 'utf8');
    const r = rotateMasterKey(root, {});
    expect(r).toMatchObject({ environments: ['dev', 'staging'], secrets: 2, keySource: 'file' });
    expect(readFileSync(keyFilePath(root), 'utf8')).not.toBe(oldKey);
    expect(mode(keyFilePath(root))).toBe(0o600);
    expect((await b.get('dev', 'a.B'))?.value).toBe('dev-value');
    expect((await b.get('staging', '*.C'))?.value).toBe('staging-value');
    await expect(
      new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: oldKey }).get('dev', 'a.B'),
    ).rejects.toMatchObject({
      code: 'SECRETS_WRONG_KEY',
    });
  });

  it('rotates an env-provided key only with PLATFORMCTL_NEW_MASTER_KEY', async () => {
    await new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: KEY_A }).set('dev', 'a.B', 'v');
    expect(() => rotateMasterKey(root, { PLATFORMCTL_MASTER_KEY: KEY_A })).toThrow(/from the environment/);
    rotateMasterKey(root, { PLATFORMCTL_MASTER_KEY: KEY_A, PLATFORMCTL_NEW_MASTER_KEY: KEY_B });
    expect((await new LocalBackend(root, { PLATFORMCTL_MASTER_KEY: KEY_B }).get('dev', 'a.B'))?.value).toBe(
      'v',
    );
  });

  it('injects <service>.X and *.X as env vars, the service value winning', async () => {
    const b = new LocalBackend(root, {});
    await b.set('dev', '*.LOG_TOKEN', 'shared');
    await b.set('dev', '*.API_KEY', 'shared-api');
    await b.set('dev', 'auth.API_KEY', 'auth-api');
    await b.set('dev', 'content.OTHER', 'c');
    await b.set('dev', 'not-injected', 'n');
    expect(secretsEnvFor(root, 'dev', 'auth', {})).toEqual({ LOG_TOKEN: 'shared', API_KEY: 'auth-api' });
    expect(secretsEnvFor(root, 'dev', 'analytics', {})).toEqual({
      LOG_TOKEN: 'shared',
      API_KEY: 'shared-api',
    });
    expect(secretsEnvFor(root, 'prod', 'auth', {})).toEqual({});
  });
});
