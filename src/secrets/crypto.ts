/**
 * Envelope-free authenticated encryption for the local secret store: AES-256-GCM with a fresh
 * random 96-bit nonce per value and the (env, name) pair bound as additional authenticated data, so a
 * ciphertext copied under another name or environment fails to decrypt instead of leaking a value.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { PlatformError } from '../core/errors.ts';

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** One encrypted value as stored on disk (all fields base64). */
export interface Sealed {
  nonce: string;
  ciphertext: string;
  tag: string;
}

/** Binds a ciphertext to where it belongs; changing either makes decryption fail. */
export function aadFor(env: string, name: string): Buffer {
  return Buffer.from(`platformctl/secrets/v1\0${env}\0${name}`, 'utf8');
}

export function seal(key: Buffer, plaintext: string, aad: Buffer): Sealed {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return {
    nonce: nonce.toString('base64'),
    ciphertext: ciphertext.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
}

/** Thrown when GCM authentication fails: almost always the wrong master key. */
export class WrongKeyError extends PlatformError {
  constructor(what: string) {
    super('SECRETS_WRONG_KEY', `cannot decrypt ${what}: wrong master key (or the store was tampered with)`, {
      hint: 'use the master key this store was written with: PLATFORMCTL_MASTER_KEY or .platform/master.key',
    });
    this.name = 'WrongKeyError';
  }
}

export function open(key: Buffer, sealed: Sealed, aad: Buffer, what: string): string {
  const nonce = Buffer.from(sealed.nonce, 'base64');
  const tag = Buffer.from(sealed.tag, 'base64');
  if (nonce.length !== NONCE_BYTES || tag.length !== TAG_BYTES) throw new WrongKeyError(what);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([
      decipher.update(Buffer.from(sealed.ciphertext, 'base64')),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    throw new WrongKeyError(what);
  }
}

/**
 * A short, non-reversible fingerprint of the key stored beside the ciphertexts. It lets `get` say
 * "wrong master key" before touching any value, and lets `rotate` prove every store was moved.
 */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('platformctl/key-id/v1\0').update(key).digest('hex').slice(0, 16);
}

/** Parses a 32-byte key given as 64 hex characters or base64 (standard or url-safe). */
export function parseKey(text: string, source: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t))
    key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (!key || key.length !== KEY_BYTES)
    throw new PlatformError('SECRETS_BAD_KEY', `${source} is not a 32-byte key`, {
      hint: 'give 32 random bytes as base64 or hex, e.g. `openssl rand -base64 32`',
    });
  return key;
}

export function newKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** A random value for generated secrets: `bytes` random bytes, base64url (no padding). */
export function randomValue(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
