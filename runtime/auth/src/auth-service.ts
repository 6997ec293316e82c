/**
 * The auth domain: accounts, sessions (access + refresh tokens), service accounts. Refusals are
 * `AuthError`s (an HttpError with status and code) that the service kit renders as problems. Security events are reported through `audit`
 * (the service writes them as structured log lines with `audit: true`).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { HttpError } from '../../lib/http-errors.ts';
import type { Db } from '../../lib/storage/db.ts';
import { type KeyStore, SIGNING_ALG } from './key-store.ts';
import { type PasswordHasher, passwordProblem } from './passwords.ts';
import type { LoginThrottle } from './throttle.ts';

export const ROLES = ['admin', 'editor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** A refusal of the auth domain; the service kit renders it like every HttpError. */
export class AuthError extends HttpError {
  constructor(status: number, code: string, message: string, retryAfterMs?: number) {
    super(status, code, message, retryAfterMs === undefined ? {} : { retryAfterS: retryAfterMs / 1000 });
    this.name = 'AuthError';
  }
}

export type AuditType =
  | 'auth.signup'
  | 'auth.login_succeeded'
  | 'auth.login_failed'
  | 'auth.login_throttled'
  | 'auth.refresh_reuse'
  | 'auth.refresh_failed'
  | 'auth.logout'
  | 'auth.keys_rotated'
  | 'auth.role_changed'
  | 'auth.client_created'
  | 'auth.client_revoked'
  | 'auth.client_token_issued'
  | 'auth.client_auth_failed';

export type Audit = (type: AuditType, fields: Record<string, unknown>) => void;

export interface AuthSettings {
  issuer: string;
  audience: string;
  accessTtlMs: number;
  refreshTtlMs: number;
  /** When non-empty, exactly these e-mails become admins at signup; otherwise the first user does. */
  adminEmails: string[];
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

export interface PublicUser {
  id: string;
  email: string;
  role: Role;
  createdAt: string;
}

interface UserRow {
  id: string;
  email: string;
  password_hash: string;
  role: Role;
  created_at: number;
}

interface RefreshRow {
  token_hash: string;
  family_id: string;
  user_id: string;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

interface ClientRow {
  id: string;
  name: string;
  secret_hash: string;
  role: Role;
  /** Space-separated scopes the client may have in its tokens. */
  scopes: string;
  revoked_at: number | null;
}

export interface Principal {
  sub: string;
  role: Role;
  clientId?: string;
}

/** Refresh tokens and client secrets are 256-bit random values: a fast hash is enough to store them. */
function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

function randomToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function publicUser(u: UserRow): PublicUser {
  return { id: u.id, email: u.email, role: u.role, createdAt: new Date(Number(u.created_at)).toISOString() };
}

export class AuthService {
  readonly #db: Db;
  readonly #keys: KeyStore;
  readonly #hasher: PasswordHasher;
  readonly #throttle: LoginThrottle;
  readonly #settings: AuthSettings;
  readonly #audit: Audit;
  readonly #now: () => number;

  constructor(deps: {
    db: Db;
    keys: KeyStore;
    hasher: PasswordHasher;
    throttle: LoginThrottle;
    settings: AuthSettings;
    audit: Audit;
    now?: () => number;
  }) {
    this.#db = deps.db;
    this.#keys = deps.keys;
    this.#hasher = deps.hasher;
    this.#throttle = deps.throttle;
    this.#settings = deps.settings;
    this.#audit = deps.audit;
    this.#now = deps.now ?? Date.now;
  }

  // ---- accounts -------------------------------------------------------------------------------

  async signup(emailRaw: string, password: string, ip: string): Promise<PublicUser> {
    const email = normaliseEmail(emailRaw);
    const problem = passwordProblem(password, email);
    if (problem) throw new AuthError(400, 'WEAK_PASSWORD', problem);
    const hash = await this.#hasher.hash(password);
    const now = this.#now();
    const id = randomUUID();
    const user = await this.#db.transaction(async (tx) => {
      if (await tx.get(`SELECT id FROM users WHERE email = ?`, [email]))
        throw new AuthError(409, 'EMAIL_TAKEN', 'an account with this e-mail already exists');
      let role: Role = 'viewer';
      if (this.#settings.adminEmails.length > 0) {
        if (this.#settings.adminEmails.includes(email)) role = 'admin';
      } else {
        const any = await tx.get(`SELECT id FROM users LIMIT 1`);
        if (!any) role = 'admin';
      }
      await tx.run(
        `INSERT INTO users (id, email, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
        [id, email, hash, role, now, now],
      );
      return { id, email, password_hash: hash, role, created_at: now } satisfies UserRow;
    });
    this.#audit('auth.signup', { userId: user.id, email, role: user.role, ip });
    return publicUser(user);
  }

  async login(emailRaw: string, password: string, ip: string): Promise<TokenPair> {
    const email = normaliseEmail(emailRaw);
    const verdict = this.#throttle.acquire(email, ip);
    if (!verdict.allowed) {
      this.#audit('auth.login_throttled', {
        email,
        ip,
        lockedBy: verdict.lockedBy,
        retryAfterMs: verdict.retryAfterMs,
      });
      throw new AuthError(
        429,
        'TOO_MANY_ATTEMPTS',
        'too many failed logins; try again later',
        verdict.retryAfterMs,
      );
    }
    let user: UserRow | undefined;
    let ok = false;
    try {
      user = await this.#db.get<UserRow>(`SELECT * FROM users WHERE email = ?`, [email]);
      // Unknown accounts cost the same argon2 work as known ones: response time tells nothing.
      ok = user
        ? await this.#hasher.verify(user.password_hash, password)
        : await this.#hasher.verifyUnknown(password);
    } finally {
      this.#throttle.release(email, ip, ok);
    }
    if (!user || !ok) {
      this.#audit('auth.login_failed', { email, ip, reason: user ? 'bad_password' : 'unknown_user' });
      throw new AuthError(401, 'INVALID_CREDENTIALS', 'e-mail or password is wrong');
    }
    if (this.#hasher.needsRehash(user.password_hash)) {
      const upgraded = await this.#hasher.hash(password);
      await this.#db.run(`UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, [
        upgraded,
        this.#now(),
        user.id,
      ]);
    }
    const familyId = randomUUID();
    const refreshToken = randomToken('rt_');
    const now = this.#now();
    await this.#db.transaction(async (tx) => {
      await tx.run(`INSERT INTO refresh_families (id, user_id, created_at) VALUES (?, ?, ?)`, [
        familyId,
        user.id,
        now,
      ]);
      await this.#insertRefresh(tx, refreshToken, familyId, user.id, now);
    });
    this.#audit('auth.login_succeeded', { userId: user.id, ip, familyId });
    return { ...(await this.#access(user.id, user.role)), refreshToken };
  }

  async refresh(refreshToken: string, ip: string): Promise<TokenPair> {
    const hash = sha256(refreshToken);
    const now = this.#now();
    const next = randomToken('rt_');
    const outcome = await this.#db.transaction(async (tx) => {
      const row = await tx.get<RefreshRow>(
        `SELECT t.token_hash, t.family_id, t.user_id, t.expires_at, t.used_at, f.revoked_at
           FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.token_hash = ?`,
        [hash],
      );
      if (!row) return { kind: 'unknown' as const };
      if (row.revoked_at !== null) return { kind: 'revoked' as const, row };
      if (row.used_at !== null) {
        await tx.run(`UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? WHERE id = ?`, [
          now,
          'reuse',
          row.family_id,
        ]);
        return { kind: 'reuse' as const, row };
      }
      if (Number(row.expires_at) <= now) return { kind: 'expired' as const, row };
      const user = await tx.get<UserRow>(`SELECT * FROM users WHERE id = ?`, [row.user_id]);
      if (!user) return { kind: 'unknown' as const };
      const marked = await tx.run(
        `UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`,
        [now, hash],
      );
      if (marked.changes !== 1) return { kind: 'unknown' as const };
      await this.#insertRefresh(tx, next, row.family_id, row.user_id, now);
      return { kind: 'ok' as const, user };
    });
    if (outcome.kind === 'reuse') {
      this.#audit('auth.refresh_reuse', { userId: outcome.row.user_id, familyId: outcome.row.family_id, ip });
      throw new AuthError(401, 'REFRESH_REUSED', 'refresh token already used; the session has been revoked');
    }
    if (outcome.kind !== 'ok') {
      this.#audit('auth.refresh_failed', {
        reason: outcome.kind,
        ip,
        familyId: outcome.kind === 'unknown' ? undefined : outcome.row.family_id,
      });
      throw new AuthError(401, 'INVALID_REFRESH_TOKEN', 'refresh token is invalid, expired or revoked');
    }
    return { ...(await this.#access(outcome.user.id, outcome.user.role)), refreshToken: next };
  }

  /** Revokes the whole family of the token. Unknown tokens are accepted silently (idempotent). */
  async logout(refreshToken: string, ip: string): Promise<void> {
    const row = await this.#db.get<{ family_id: string; user_id: string }>(
      `SELECT family_id, user_id FROM refresh_tokens WHERE token_hash = ?`,
      [sha256(refreshToken)],
    );
    if (!row) return;
    await this.#db.run(
      `UPDATE refresh_families SET revoked_at = ?, revoked_reason = 'logout' WHERE id = ? AND revoked_at IS NULL`,
      [this.#now(), row.family_id],
    );
    this.#audit('auth.logout', { userId: row.user_id, familyId: row.family_id, ip });
  }

  async #insertRefresh(tx: Pick<Db, 'run'>, token: string, familyId: string, userId: string, now: number) {
    await tx.run(
      `INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
      [sha256(token), familyId, userId, now, now + this.#settings.refreshTtlMs],
    );
  }

  async #access(sub: string, role: Role, extra: Record<string, unknown> = {}) {
    const { kid, key } = await this.#keys.signingKey();
    const iat = Math.floor(this.#now() / 1000);
    const expiresIn = Math.round(this.#settings.accessTtlMs / 1000);
    const accessToken = await new SignJWT({ role, ...extra })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' })
      .setIssuer(this.#settings.issuer)
      .setAudience(this.#settings.audience)
      .setSubject(sub)
      .setIssuedAt(iat)
      .setExpirationTime(iat + expiresIn)
      .setJti(randomUUID())
      .sign(key);
    return { accessToken, expiresIn, tokenType: 'Bearer' as const };
  }

  /** Verifies an access token issued by this service (used for its own admin endpoints). */
  async verifyAccess(token: string): Promise<Principal> {
    try {
      const { kid } = decodeProtectedHeader(token);
      if (typeof kid !== 'string') throw new Error('no kid');
      const key = await this.#keys.verificationKey(kid);
      if (!key) throw new Error('unknown kid');
      const { payload } = await jwtVerify(token, key, {
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        algorithms: [SIGNING_ALG],
        currentDate: new Date(this.#now()),
      });
      return principalOf(payload);
    } catch {
      throw new AuthError(401, 'INVALID_TOKEN', 'access token is missing, invalid or expired');
    }
  }

  /**
   * The principal of an access token as the records say now, not as the token said when it was
   * issued: the user's current role, or the service client's while it is not revoked. A principal
   * that no longer exists or was revoked is 401, like a bad token. Other services ask this (gRPC
   * `GetPrincipal`) before letting a caller do something its role decides.
   */
  async currentPrincipal(token: string): Promise<Principal & { tokenRole: Role }> {
    const claimed = await this.verifyAccess(token);
    const gone = () =>
      new AuthError(401, 'INVALID_TOKEN', "the token's principal no longer exists or was revoked");
    if (claimed.clientId !== undefined) {
      const row = await this.#db.get<Pick<ClientRow, 'role' | 'revoked_at'>>(
        `SELECT role, revoked_at FROM service_clients WHERE id = ?`,
        [claimed.clientId],
      );
      if (!row || row.revoked_at !== null) throw gone();
      return { ...claimed, role: row.role, tokenRole: claimed.role };
    }
    const user = await this.#db.get<Pick<UserRow, 'role'>>(`SELECT role FROM users WHERE id = ?`, [
      claimed.sub,
    ]);
    if (!user) throw gone();
    return { ...claimed, role: user.role, tokenRole: claimed.role };
  }

  // ---- admin ----------------------------------------------------------------------------------

  async listUsers(): Promise<PublicUser[]> {
    const rows = await this.#db.query<UserRow>(`SELECT * FROM users ORDER BY created_at, id LIMIT 1000`);
    return rows.map(publicUser);
  }

  async setRole(actor: Principal, userId: string, role: Role): Promise<PublicUser> {
    const user = await this.#db.get<UserRow>(`SELECT * FROM users WHERE id = ?`, [userId]);
    if (!user) throw new AuthError(404, 'NOT_FOUND', 'no such user');
    await this.#db.run(`UPDATE users SET role = ?, updated_at = ? WHERE id = ?`, [role, this.#now(), userId]);
    this.#audit('auth.role_changed', { actor: actor.sub, userId, from: user.role, to: role });
    return publicUser({ ...user, role });
  }

  async rotateKeys(actor: Principal, revokePrevious: boolean): Promise<{ kid: string }> {
    const r = await this.#keys.rotate(revokePrevious ? 'manual-revoke' : 'manual', { revokePrevious });
    this.#audit('auth.keys_rotated', { actor: actor.sub, kid: r.kid, revokePrevious });
    return r;
  }

  // ---- service accounts (OAuth2 client credentials, RFC 6749 §4.4) ----------------------------

  async createClient(
    actor: Principal,
    name: string,
    role: Role,
    scopes: readonly string[] = [],
  ): Promise<{ clientId: string; clientSecret: string }> {
    const clientId = `svc_${randomBytes(9).toString('base64url')}`;
    const clientSecret = randomToken('cs_');
    await this.#db.run(
      `INSERT INTO service_clients (id, name, secret_hash, role, scopes, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
      [clientId, name, sha256(clientSecret), role, scopes.join(' '), this.#now()],
    );
    this.#audit('auth.client_created', { actor: actor.sub, clientId, name, role, scopes });
    return { clientId, clientSecret };
  }

  async listClients(): Promise<
    { clientId: string; name: string; role: Role; createdAt: string; revokedAt: string | null }[]
  > {
    const rows = await this.#db.query<ClientRow & { created_at: number }>(
      `SELECT * FROM service_clients ORDER BY created_at, id LIMIT 1000`,
    );
    return rows.map((r) => ({
      clientId: r.id,
      name: r.name,
      role: r.role,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      revokedAt: r.revoked_at === null ? null : new Date(Number(r.revoked_at)).toISOString(),
    }));
  }

  async revokeClient(actor: Principal, clientId: string): Promise<boolean> {
    const r = await this.#db.run(
      `UPDATE service_clients SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
      [this.#now(), clientId],
    );
    if (r.changes > 0) this.#audit('auth.client_revoked', { actor: actor.sub, clientId });
    return r.changes > 0;
  }

  /**
   * A client-credentials access token. `requested` (RFC 6749 §3.3) narrows the client's scopes;
   * asking for one it was not granted is 400 `INVALID_SCOPE`. Without it the token has them all.
   */
  async clientToken(clientId: string, clientSecret: string, ip: string, requested?: string) {
    const verdict = this.#throttle.acquire(`client:${clientId}`, ip);
    if (!verdict.allowed)
      throw new AuthError(
        429,
        'TOO_MANY_ATTEMPTS',
        'too many failed attempts; try again later',
        verdict.retryAfterMs,
      );
    let row: ClientRow | undefined;
    let ok = false;
    try {
      row = await this.#db.get<ClientRow>(`SELECT * FROM service_clients WHERE id = ?`, [clientId]);
      const given = Buffer.from(sha256(clientSecret), 'hex');
      const expected = Buffer.from(row?.secret_hash ?? sha256(randomUUID()), 'hex');
      ok = timingSafeEqual(given, expected) && row !== undefined && row.revoked_at === null;
    } finally {
      this.#throttle.release(`client:${clientId}`, ip, ok);
    }
    if (!ok || !row) {
      this.#audit('auth.client_auth_failed', {
        clientId,
        ip,
        reason: row ? (row.revoked_at ? 'revoked' : 'bad_secret') : 'unknown_client',
      });
      throw new AuthError(401, 'INVALID_CLIENT', 'client authentication failed');
    }
    const granted = (row.scopes ?? '').split(' ').filter(Boolean);
    const wanted = requested === undefined ? granted : requested.split(' ').filter(Boolean);
    const missing = wanted.filter((s) => !granted.includes(s));
    if (missing.length > 0)
      throw new AuthError(400, 'INVALID_SCOPE', `scope not granted to this client: ${missing.join(' ')}`);
    const access = await this.#access(row.id, row.role, {
      client_id: row.id,
      ...(wanted.length > 0 ? { scope: wanted.join(' ') } : {}),
    });
    this.#audit('auth.client_token_issued', { clientId, ip });
    return access;
  }
}

export function principalOf(payload: JWTPayload): Principal {
  const role = payload.role;
  if (
    typeof payload.sub !== 'string' ||
    typeof role !== 'string' ||
    !(ROLES as readonly string[]).includes(role)
  )
    throw new Error('bad claims');
  const p: Principal = { sub: payload.sub, role: role as Role };
  if (typeof payload.client_id === 'string') p.clientId = payload.client_id;
  return p;
}
