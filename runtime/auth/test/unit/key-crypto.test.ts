import { describe, expect, it } from 'vitest';
import { deriveKek, isSealed, KeyEncryptionError, seal, unseal } from '../../src/key-crypto.ts';

describe('key encryption at rest', () => {
  const secret = '{"kty":"OKP","crv":"Ed25519","d":"secret-material"}';

  it('round-trips with the right key and never contains the plaintext', () => {
    const kek = deriveKek('correct horse battery staple');
    const sealed = seal(secret, kek);
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain('secret-material');
    expect(unseal(sealed, kek)).toBe(secret);
  });

  it('refuses a wrong key, a missing key and tampered ciphertext', () => {
    const sealed = seal(secret, deriveKek('one'));
    expect(() => unseal(sealed, deriveKek('two'))).toThrow(KeyEncryptionError);
    expect(() => unseal(sealed, undefined)).toThrow(/AUTH_KEY_ENCRYPTION_KEY/);
    const tampered = sealed.slice(0, -3) + (sealed.endsWith('A') ? 'BBB' : 'AAA');
    expect(() => unseal(tampered, deriveKek('one'))).toThrow(KeyEncryptionError);
  });

  it('stores plainly without a key and still reads plain values when a key is set later', () => {
    const plain = seal(secret, undefined);
    expect(isSealed(plain)).toBe(false);
    expect(unseal(plain, deriveKek('later'))).toBe(secret);
  });
});
