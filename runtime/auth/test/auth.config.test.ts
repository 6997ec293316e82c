/** Start-up configuration of auth: configured admins, and sealed keys without their key. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService } from './helpers/service-process.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'auth-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function signup(url: string, email: string) {
  const r = await fetch(`${url}/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'a-long-password' }),
  });
  return ((await r.json()) as { role: string }).role;
}

describe('auth configuration', () => {
  it('makes exactly AUTH_ADMIN_EMAILS admins, and refuses to start without the key that sealed its keys', async () => {
    const dataDir = join(dir, 'auth');
    const first = await startService('auth', {
      DATA_DIR: dataDir,
      AUTH_ADMIN_EMAILS: 'Boss@Example.com, second@example.com',
      AUTH_KEY_ENCRYPTION_KEY: 'a-sufficiently-long-secret',
    });
    try {
      expect(await signup(first.url, 'early@example.com')).toBe('viewer');
      expect(await signup(first.url, 'boss@example.com')).toBe('admin');
      expect(first.stdout()).not.toContain('stored unencrypted');
    } finally {
      expect(await first.stop()).toBe(0);
    }
    await expect(startService('auth', { DATA_DIR: dataDir })).rejects.toThrow(
      /AUTH_KEY_ENCRYPTION_KEY is not set/,
    );
    await expect(
      startService('auth', { DATA_DIR: dataDir, AUTH_KEY_ENCRYPTION_KEY: 'another-long-secret-value' }),
    ).rejects.toThrow(/not the key they were sealed with/);
    await expect(
      startService('auth', { DATA_DIR: dataDir, AUTH_KEY_ENCRYPTION_KEY: 'short' }),
    ).rejects.toThrow(/at least 16 characters/);
  });
});
