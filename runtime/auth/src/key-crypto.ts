/**
 * Encryption at rest of the JWT signing keys.
 *
 * When `AUTH_KEY_ENCRYPTION_KEY` is set, private JWKs are sealed with AES-256-GCM before they
 * reach the database. The env value may be any high-entropy string (e.g. `openssl rand -base64 32`);
 * the AES key is derived from it with HKDF-SHA256, so its length and encoding do not matter.
 * Without the variable, keys are stored as plain JSON (fine for local development; the README
 * says to set it everywhere else). Sealed values carry a version tag so the scheme can change.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const PLAIN = 'plain:';
const V1 = 'v1:';

export class KeyEncryptionError extends Error {}

export function deriveKek(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'platformctl-auth', 'jwt-signing-key-encryption/v1', 32));
}

export function seal(plaintext: string, kek: Buffer | undefined): string {
  if (!kek) return PLAIN + plaintext;
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return V1 + [iv, tag, body].map((b) => b.toString('base64url')).join('.');
}

export function unseal(stored: string, kek: Buffer | undefined): string {
  if (stored.startsWith(PLAIN)) return stored.slice(PLAIN.length);
  if (!stored.startsWith(V1)) throw new KeyEncryptionError('unknown key storage format');
  if (!kek)
    throw new KeyEncryptionError(
      'signing keys in the database are encrypted but AUTH_KEY_ENCRYPTION_KEY is not set',
    );
  const [iv, tag, body] = stored
    .slice(V1.length)
    .split('.')
    .map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !body) throw new KeyEncryptionError('corrupt encrypted key');
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    throw new KeyEncryptionError(
      'cannot decrypt signing keys: AUTH_KEY_ENCRYPTION_KEY is not the key they were sealed with',
    );
  }
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(V1);
}
