import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Db, openDb } from '../../../lib/storage/db.ts';
import { deriveKek } from '../../src/key-crypto.ts';
import { KeyStore, type KeyStoreOptions } from '../../src/key-store.ts';
import { migrations } from '../../src/migrations.ts';

const dirs: string[] = [];
const dbs: Db[] = [];
afterEach(async () => {
  for (const d of dbs.splice(0)) await d.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function freshDb(): Promise<{ db: Db; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'keystore-'));
  dirs.push(dir);
  const url = `sqlite://${join(dir, 'auth.db')}`;
  const db = await openDb(url);
  dbs.push(db);
  await db.migrate(migrations);
  return { db, url };
}

function options(now: () => number, extra: Partial<KeyStoreOptions> = {}): KeyStoreOptions {
  return {
    kek: undefined,
    rotateAfterMs: 60_000,
    retainRetiredMs: 10_000,
    reloadEveryMs: 1_000,
    now,
    ...extra,
  };
}

describe('KeyStore', () => {
  it('creates current + next keys, rotates by age, and keeps the previous key published', async () => {
    const { db } = await freshDb();
    let now = 1_000_000;
    const rotations: string[] = [];
    const ks = new KeyStore(
      db,
      options(() => now, { onRotate: (r) => rotations.push(r.reason) }),
    );
    await ks.init();
    const first = await ks.signingKey();
    const jwks1 = (await ks.jwks()).keys.map((k) => k.kid);
    expect(jwks1).toHaveLength(2); // current + next
    expect(jwks1).toContain(first.kid);
    for (const k of (await ks.jwks()).keys) expect(k).not.toHaveProperty('d');

    now += 59_000;
    expect((await ks.signingKey()).kid).toBe(first.kid);
    now += 2_000;
    const second = await ks.signingKey();
    expect(second.kid).not.toBe(first.kid);
    // The key that became current was the one pre-published as "next".
    expect(jwks1).toContain(second.kid);
    const jwks2 = (await ks.jwks()).keys.map((k) => k.kid);
    expect(jwks2).toContain(first.kid); // previous
    expect(jwks2).toHaveLength(3);
    expect(await ks.verificationKey(first.kid)).toBeDefined();
    expect(rotations).toEqual(['initial', 'age']);

    // Two rotations later the first key has aged out of the JWKS.
    now += 61_000;
    await ks.signingKey();
    now += 61_000;
    await ks.signingKey();
    expect((await ks.jwks()).keys.map((k) => k.kid)).not.toContain(first.kid);
    expect(await ks.verificationKey(first.kid)).toBeUndefined();
  });

  it('revokePrevious withdraws the current and next keys at once', async () => {
    const { db } = await freshDb();
    const ks = new KeyStore(db, options(Date.now));
    await ks.init();
    const before = (await ks.jwks()).keys.map((k) => k.kid);
    await ks.rotate('manual-revoke', { revokePrevious: true });
    const after = (await ks.jwks()).keys.map((k) => k.kid);
    for (const kid of before) expect(after).not.toContain(kid);
    expect(after).toHaveLength(2);
  });

  it('seals plain keys once a key-encryption key is configured, and refuses a wrong one', async () => {
    const { db } = await freshDb();
    const plain = new KeyStore(db, options(Date.now));
    await plain.init();
    const kid = (await plain.signingKey()).kid;
    const sealed = new KeyStore(db, options(Date.now, { kek: deriveKek('first-secret-value') }));
    await sealed.init();
    expect((await sealed.signingKey()).kid).toBe(kid);
    const rows = await db.query<{ private_jwk: string }>('SELECT private_jwk FROM signing_keys');
    for (const r of rows) expect(r.private_jwk.startsWith('v1:')).toBe(true);
    const wrong = new KeyStore(db, options(Date.now, { kek: deriveKek('another-secret-value') }));
    await expect(wrong.init()).rejects.toThrow(/AUTH_KEY_ENCRYPTION_KEY/);
    const none = new KeyStore(db, options(Date.now));
    await expect(none.init()).rejects.toThrow(/AUTH_KEY_ENCRYPTION_KEY is not set/);
  });
});
