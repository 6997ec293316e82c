/**
 * Bearer JWT verification against the auth service's JWKS. jose's remote key set caches the
 * keys and refetches when a token names an unknown `kid` (key rotation), at most once per
 * cooldown so forged kids cannot make us hammer the auth service.
 */
import { createRemoteJWKSet, errors, type JWKSCacheInput, type JWTPayload, jwksCache, jwtVerify } from 'jose';

export interface Identity {
  userId: string;
  role: string | undefined;
  /** The token's OAuth2 `scope` (space-separated), forwarded as `x-user-scope`. */
  scope: string | undefined;
  /**
   * The rate limiter's bucket key for this user (`u:<userId>`), built once when the token is
   * verified: the same string object on every request, so V8 hashes it once instead of building
   * and hashing a fresh key per request.
   */
  clientKey: string;
}

export type VerifyResult = { ok: true; identity: Identity } | { ok: false; reason: string };

export interface JwtVerifierOptions {
  jwksUrl: string;
  issuer: string;
  audience: string;
  cooldownMs: number;
}

/** Asymmetric algorithms only: `none` and HMAC (key confusion with a public key) never verify. */
const ALGORITHMS = ['EdDSA', 'Ed25519', 'ES256', 'ES384', 'RS256', 'PS256'];
const CACHE_MAX = 10_000;
const CACHE_TTL_MS = 60_000;

interface CacheEntry {
  identity: Identity;
  until: number;
  /** The fetch of the key set (jose's `uat`) that verified it. */
  keys: number | undefined;
}

/** On a client connection: the last token it sent and that token's cache entry. */
const LAST_TOKEN = Symbol('gateway last token');
type TokenHolder = { [LAST_TOKEN]?: { token: string; entry: CacheEntry } };

export class JwtVerifier {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #opts: JwtVerifierOptions;
  /**
   * Verified tokens until min(exp, 60 s): a signature check costs far more than a Map lookup and
   * clients send the same token many times. Keyed by the whole token, so nothing forged can hit it.
   * Each entry remembers which fetch of the key set verified it (`keys`): once the key set has been
   * fetched again (a rotation brought a new `kid`, or the copy went stale), an entry is verified
   * afresh before it is trusted, so a key the auth service withdrew stops admitting its tokens at
   * the next fetch, not up to a minute later.
   */
  readonly #cache = new Map<string, CacheEntry>();
  /** jose records here when the key set was last fetched (`uat`); see `jwksCache` in jose. */
  readonly #keySet: { uat?: number } = {};

  constructor(opts: JwtVerifierOptions) {
    this.#opts = opts;
    this.#jwks = createRemoteJWKSet(new URL(opts.jwksUrl), {
      cooldownDuration: opts.cooldownMs,
      cacheMaxAge: 10 * 60_000,
      timeoutDuration: 5_000,
      [jwksCache]: this.#keySet as JWKSCacheInput,
    });
  }

  /** When the key set in use was fetched (jose's `uat`), or undefined before the first fetch. */
  get #keysFetchedAt(): number | undefined {
    return this.#keySet.uat;
  }

  /** Tokens currently held as verified (bounded by CACHE_MAX). */
  get cachedTokens(): number {
    return this.#cache.size;
  }

  /**
   * The identity of a token verified earlier and still trusted, without a promise: the gateway's
   * hot path (every request of a client after its first) stays synchronous.
   */
  cached(token: string, now = Date.now()): Identity | undefined {
    return this.#lookup(token, now)?.identity;
  }

  /**
   * `cached`, remembering on `holder` (the client's connection) the last token it sent: a
   * keep-alive client sends the same token on every request, and comparing it with the last one is
   * a plain compare where the Map lookup first hashes the whole token (a fresh string per request).
   * Only an exactly equal token matches, and its entry is checked for expiry and key rotation as
   * in `cached`.
   */
  cachedOn(holder: object, token: string, now = Date.now()): Identity | undefined {
    const h = holder as TokenHolder;
    const last = h[LAST_TOKEN];
    if (last !== undefined && last.token === token && this.#trusted(last.entry, now))
      return last.entry.identity;
    const entry = this.#lookup(token, now);
    if (!entry) return undefined;
    if (last) {
      last.token = token;
      last.entry = entry;
    } else h[LAST_TOKEN] = { token, entry };
    return entry.identity;
  }

  #trusted(entry: CacheEntry, now: number): boolean {
    return entry.until > now && entry.keys === this.#keysFetchedAt;
  }

  #lookup(token: string, now: number): CacheEntry | undefined {
    const hit = this.#cache.get(token);
    if (!hit) return undefined;
    if (this.#trusted(hit, now)) return hit;
    this.#cache.delete(token);
    return undefined;
  }

  async verify(token: string, now = Date.now()): Promise<VerifyResult> {
    const identity = this.cached(token, now);
    if (identity) return { ok: true, identity };
    return this.#verifyAndCache(token, now);
  }

  async #verifyAndCache(token: string, now: number): Promise<VerifyResult> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#jwks, {
        issuer: this.#opts.issuer,
        audience: this.#opts.audience,
        algorithms: ALGORITHMS,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      return { ok: false, reason: describe(err) };
    }
    const userId = String(payload.sub);
    const identity: Identity = {
      userId,
      role: roleOf(payload),
      scope: typeof payload['scope'] === 'string' ? payload['scope'] : undefined,
      clientKey: `u:${userId}`,
    };
    if (this.#cache.size >= CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value as string);
    const exp = typeof payload.exp === 'number' ? payload.exp * 1000 : now;
    this.#cache.set(token, { identity, until: Math.min(exp, now + CACHE_TTL_MS), keys: this.#keysFetchedAt });
    return { ok: true, identity };
  }
}

function roleOf(payload: JWTPayload): string | undefined {
  if (typeof payload['role'] === 'string') return payload['role'];
  const roles = payload['roles'];
  if (Array.isArray(roles) && typeof roles[0] === 'string') return roles[0];
  return undefined;
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `invalid claim ${err.claim}`;
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown signing key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof errors.JWKSTimeout || (err as { code?: string }).code === 'ERR_JWKS_TIMEOUT') {
    return 'signing keys unavailable';
  }
  if (err instanceof errors.JOSEError) return 'malformed token';
  return 'signing keys unavailable';
}

/**
 * The token of an `Authorization: Bearer <token>` header, if any (the scheme in any case). Read on
 * every authenticated request: the usual spelling is recognised without building a lower-cased copy.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header || header.length < 8) return undefined;
  if (!header.startsWith('Bearer ') && header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = header.slice(7).trim();
  return token.length > 0 && token.length <= 8192 ? token : undefined;
}
