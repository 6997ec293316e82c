/**
 * JWT signing keys: Ed25519 (JWS alg `EdDSA`), persisted in the database, rotated by age and on
 * demand, published as a JWKS.
 *
 * Each key moves through states: `next` (published, not yet signing) -> `current` (signing) ->
 * `retired` (published while tokens it signed can still be alive) or `revoked` (withdrawn at once,
 * for a suspected compromise). Publishing the next key one rotation ahead means verifiers that
 * cache the JWKS (the gateway) already know a key before the first token signed with it arrives.
 *
 * Several auth replicas may share the database: a rotation re-checks the current key inside the
 * transaction (only one replica rotates), and every replica reloads the keys periodically.
 */
import { randomUUID } from 'node:crypto';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Db } from '../../lib/storage/db.ts';
import { isSealed, seal, unseal } from './key-crypto.ts';

export const SIGNING_ALG = 'EdDSA';

type KeyState = 'next' | 'current' | 'retired' | 'revoked';

interface KeyRow {
  kid: string;
  alg: string;
  state: KeyState;
  public_jwk: string;
  private_jwk: string;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
}

interface LoadedKey {
  kid: string;
  state: KeyState;
  publicJwk: JWK;
  publicKey: CryptoKey;
  privateKey: CryptoKey | undefined;
  activatedAt: number | null;
  retiredAt: number | null;
}

export interface KeyStoreOptions {
  /** Key-encryption key for private keys at rest (undefined: stored plainly). */
  kek: Buffer | undefined;
  /** A current key older than this is rotated automatically. */
  rotateAfterMs: number;
  /** How long retired keys stay in the JWKS: the access token lifetime plus clock skew. */
  retainRetiredMs: number;
  /** How often keys are re-read from the database (other replicas may rotate). */
  reloadEveryMs: number;
  now?: () => number;
  onRotate?: (info: { kid: string; previousKid: string | undefined; reason: string }) => void;
}

export class KeyStore {
  readonly #db: Db;
  readonly #opts: KeyStoreOptions;
  readonly #now: () => number;
  #keys: LoadedKey[] = [];
  #loadedAt = 0;
  #rotating: Promise<void> | undefined;

  constructor(db: Db, opts: KeyStoreOptions) {
    this.#db = db;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Loads keys, creating the first current and next keys when the database has none. */
  async init(): Promise<void> {
    await this.#sealPlainKeys();
    await this.#load();
    if (!this.#current()) await this.rotate('initial');
  }

  /** Keys stored before AUTH_KEY_ENCRYPTION_KEY was set are sealed as soon as it is. */
  async #sealPlainKeys(): Promise<void> {
    const kek = this.#opts.kek;
    if (!kek) return;
    const rows = await this.#db.query<{ kid: string; private_jwk: string }>(
      `SELECT kid, private_jwk FROM signing_keys`,
    );
    for (const r of rows) {
      if (isSealed(r.private_jwk)) continue;
      await this.#db.run(`UPDATE signing_keys SET private_jwk = ? WHERE kid = ?`, [
        seal(unseal(r.private_jwk, kek), kek),
        r.kid,
      ]);
    }
  }

  /** The signing key, rotating first when it is older than the rotation interval. */
  async signingKey(): Promise<{ kid: string; key: CryptoKey }> {
    const now = this.#now();
    if (now - this.#loadedAt > this.#opts.reloadEveryMs) await this.#load();
    let cur = this.#current();
    if (!cur || (cur.activatedAt ?? 0) + this.#opts.rotateAfterMs <= now) {
      await this.rotate('age');
      cur = this.#current();
    }
    if (!cur?.privateKey) throw new Error('no current signing key');
    return { kid: cur.kid, key: cur.privateKey };
  }

  /** Public key for a kid that is still trusted (next, current or a recently retired key). */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    if (this.#now() - this.#loadedAt > this.#opts.reloadEveryMs) await this.#load();
    let k = this.#published().find((x) => x.kid === kid);
    // An unknown kid may be a key another replica just created; re-read, but at most once a
    // second so tokens with random kids cannot turn into a database query each.
    if (!k && this.#now() - this.#loadedAt > 1000) {
      await this.#load();
      k = this.#published().find((x) => x.kid === kid);
    }
    return k?.publicKey;
  }

  async jwks(): Promise<{ keys: JWK[] }> {
    if (this.#now() - this.#loadedAt > this.#opts.reloadEveryMs) await this.#load();
    return { keys: this.#published().map((k) => k.publicJwk) };
  }

  /**
   * Promotes the next key to current, retires (or with `revokePrevious`, withdraws) the old current
   * key, and generates a new next key. Concurrent calls in this process share one rotation.
   */
  async rotate(reason: string, opts: { revokePrevious?: boolean } = {}): Promise<{ kid: string }> {
    while (this.#rotating) await this.#rotating;
    const run = this.#rotate(reason, opts.revokePrevious ?? false);
    this.#rotating = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      this.#rotating = undefined;
    }
    const cur = this.#current();
    if (!cur) throw new Error('rotation left no current key');
    return { kid: cur.kid };
  }

  async #rotate(reason: string, revokePrevious: boolean): Promise<void> {
    const fresh = await Promise.all([this.#generate(), this.#generate()]);
    let rotated: { kid: string; previousKid: string | undefined } | undefined;
    await this.#db.transaction(async (tx) => {
      const now = this.#now();
      const cur = await tx.get<KeyRow>(`SELECT * FROM signing_keys WHERE state = 'current'`);
      // Another replica rotated by age in the meantime: nothing to do.
      if (reason === 'age' && cur && (cur.activated_at ?? 0) + this.#opts.rotateAfterMs > now) return;
      const next = await tx.get<KeyRow>(`SELECT * FROM signing_keys WHERE state = 'next'`);
      if (cur) {
        await tx.run(`UPDATE signing_keys SET state = ?, retired_at = ? WHERE kid = ?`, [
          revokePrevious ? 'revoked' : 'retired',
          now,
          cur.kid,
        ]);
      }
      // Withdrawing a possibly leaked key also withdraws the pre-published one, which may have leaked with it.
      let promoteKid: string;
      if (next && !revokePrevious) {
        promoteKid = next.kid;
      } else {
        if (next)
          await tx.run(`UPDATE signing_keys SET state = 'revoked', retired_at = ? WHERE kid = ?`, [
            now,
            next.kid,
          ]);
        promoteKid = await this.#insert(tx, fresh[1]!, 'next', now);
      }
      await tx.run(`UPDATE signing_keys SET state = 'current', activated_at = ? WHERE kid = ?`, [
        now,
        promoteKid,
      ]);
      await this.#insert(tx, fresh[0]!, 'next', now);
      rotated = { kid: promoteKid, previousKid: cur?.kid };
    });
    await this.#load();
    if (rotated) this.#opts.onRotate?.({ ...rotated, reason });
  }

  async #insert(
    tx: Pick<Db, 'run'>,
    k: { kid: string; publicJwk: JWK; privateJwk: JWK },
    state: KeyState,
    now: number,
  ): Promise<string> {
    await tx.run(
      `INSERT INTO signing_keys (kid, alg, state, public_jwk, private_jwk, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [
        k.kid,
        SIGNING_ALG,
        state,
        JSON.stringify(k.publicJwk),
        seal(JSON.stringify(k.privateJwk), this.#opts.kek),
        now,
      ],
    );
    return k.kid;
  }

  async #generate(): Promise<{ kid: string; publicJwk: JWK; privateJwk: JWK }> {
    const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, {
      crv: 'Ed25519',
      extractable: true,
    });
    const kid = randomUUID();
    const meta = { kid, alg: SIGNING_ALG, use: 'sig' };
    return {
      kid,
      publicJwk: { ...(await exportJWK(publicKey)), ...meta },
      privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    };
  }

  async #load(): Promise<void> {
    const rows = await this.#db.query<KeyRow>(
      `SELECT * FROM signing_keys WHERE state IN ('next', 'current', 'retired') ORDER BY created_at DESC, kid`,
    );
    const cutoff = this.#now() - this.#opts.retainRetiredMs;
    const latestRetired = rows.find((r) => r.state === 'retired');
    const keep = rows.filter(
      (r) => r.state !== 'retired' || r === latestRetired || (r.retired_at ?? 0) > cutoff,
    );
    const loaded: LoadedKey[] = [];
    for (const r of keep) {
      const cached = this.#keys.find((k) => k.kid === r.kid);
      const publicJwk = JSON.parse(r.public_jwk) as JWK;
      loaded.push({
        kid: r.kid,
        state: r.state,
        publicJwk,
        publicKey: cached?.publicKey ?? ((await importJWK(publicJwk, SIGNING_ALG)) as CryptoKey),
        privateKey:
          r.state === 'current'
            ? (cached?.privateKey ??
              ((await importJWK(
                JSON.parse(unseal(r.private_jwk, this.#opts.kek)) as JWK,
                SIGNING_ALG,
              )) as CryptoKey))
            : undefined,
        activatedAt: r.activated_at === null ? null : Number(r.activated_at),
        retiredAt: r.retired_at === null ? null : Number(r.retired_at),
      });
    }
    this.#keys = loaded;
    this.#loadedAt = this.#now();
  }

  #current(): LoadedKey | undefined {
    return this.#keys.find((k) => k.state === 'current');
  }

  #published(): LoadedKey[] {
    return this.#keys;
  }
}
