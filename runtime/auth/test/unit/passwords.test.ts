import { describe, expect, it } from 'vitest';
import { OWASP_ARGON2ID, PasswordHasher, passwordProblem } from '../../src/passwords.ts';

describe('PasswordHasher', () => {
  const hasher = new PasswordHasher();

  it('hashes with argon2id at the OWASP parameters and verifies', async () => {
    const hash = await hasher.hash('s3cret-passw0rd');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await hasher.verify(hash, 's3cret-passw0rd')).toBe(true);
    expect(await hasher.verify(hash, 'wrong')).toBe(false);
    expect(await hasher.verify('garbage', 'x')).toBe(false);
    expect(hasher.needsRehash(hash)).toBe(false);
    expect(new PasswordHasher({ ...OWASP_ARGON2ID, timeCost: 3 }).needsRehash(hash)).toBe(true);
    expect(await hasher.verifyUnknown('anything')).toBe(false);
  });

  it('validates password length', () => {
    expect(passwordProblem('short')).toMatch(/at least/);
    expect(passwordProblem('x'.repeat(2000))).toMatch(/at most/);
    expect(passwordProblem('long enough')).toBeUndefined();
  });

  it('refuses common and breached passwords and the account e-mail (NIST SP 800-63B)', () => {
    for (const p of ['password', '12345678', 'Password1', ' qwertyuiop ', 'iloveyou1', 'platformctl'])
      expect(passwordProblem(p), p).toMatch(/common or breached/);
    expect(passwordProblem('alice.smith', 'Alice.Smith@example.com')).toMatch(/common or breached/);
    expect(passwordProblem('alice.smith@example.com', 'alice.smith@example.com')).toMatch(/common/);
    expect(passwordProblem('correct horse battery staple', 'alice@example.com')).toBeUndefined();
  });
});
