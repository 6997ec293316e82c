/**
 * Password hashing with argon2id.
 *
 * Parameters: the OWASP Password Storage Cheat Sheet's first argon2id configuration,
 * m = 19456 KiB (19 MiB), t = 2 iterations, p = 1 lane. These are the minimum OWASP recommends;
 * `AUTH_ARGON2_MEMORY_KIB` / `AUTH_ARGON2_TIME_COST` may raise them (never lower: the config
 * schema enforces the floor). Hashes are stored in the PHC string format, which embeds the
 * parameters, so raising them later only affects new hashes; `needsRehash` upgrades old ones on
 * the next successful login.
 */
import argon2 from 'argon2';
import { isCommonPassword } from './common-passwords.ts';

export interface PasswordParams {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export const OWASP_ARGON2ID: PasswordParams = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** Longest password accepted, in UTF-8 bytes: bounds the work an attacker can make us do per request. */
export const MAX_PASSWORD_BYTES = 1024;
export const MIN_PASSWORD_CHARS = 8;

export class PasswordHasher {
  readonly params: PasswordParams;
  /** Hash of a random password, verified against when the account does not exist (see `verifyUnknown`). */
  #dummyHash: Promise<string>;

  constructor(params: PasswordParams = OWASP_ARGON2ID) {
    this.params = params;
    this.#dummyHash = this.hash(`dummy-${Math.random()}-${Date.now()}`);
  }

  hash(password: string): Promise<string> {
    return argon2.hash(password, { type: argon2.argon2id, ...this.params });
  }

  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2.verify(hash, password);
    } catch {
      return false;
    }
  }

  /**
   * Burns the same CPU and memory as a real verification so that the response time of a login
   * for an unknown e-mail cannot be told apart from a wrong password (no account enumeration).
   */
  async verifyUnknown(password: string): Promise<false> {
    await this.verify(await this.#dummyHash, password);
    return false;
  }

  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, { ...this.params });
    } catch {
      return true;
    }
  }
}

/**
 * Returns a reason when the password is unacceptable, undefined when it is fine: NIST SP 800-63B
 * length bounds, then the list of common and breached passwords (and the account's own e-mail).
 */
export function passwordProblem(password: string, email?: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_CHARS)
    return `password must have at least ${MIN_PASSWORD_CHARS} characters`;
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES)
    return `password must be at most ${MAX_PASSWORD_BYTES} bytes`;
  if (isCommonPassword(password, email))
    return 'password is on the list of common or breached passwords; choose a longer, less guessable one';
  return undefined;
}
