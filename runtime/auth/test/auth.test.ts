/**
 * The auth service as a real process: accounts, token lifecycle, attacks on tokens, service
 * accounts, throttling, and that its logs never contain secrets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  importJWK,
  type JWK,
  jwtVerify,
  SignJWT,
  UnsecuredJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKek, unseal } from '../src/key-crypto.ts';
import { type ServiceProcess, startService } from './helpers/service-process.ts';

const KEK = 'test-key-encryption-key-0123456789';
let dir: string;
let svc: ServiceProcess;
const secrets: string[] = [];
let ipCounter = 0;
const freshIp = () => `10.0.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

async function call(path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(svc.url + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      'x-forwarded-for': freshIp(),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function signup(email: string, password: string) {
  secrets.push(password);
  return call('/auth/signup', { email, password });
}

async function login(email: string, password: string) {
  const r = await call('/auth/login', { email, password });
  if (r.status === 200) secrets.push(r.body.accessToken, r.body.refreshToken);
  return r;
}

const issuer = 'platformctl-auth';
const audience = 'platform';
let jwks: ReturnType<typeof createRemoteJWKSet>;
const verify = (token: string) => jwtVerify(token, jwks, { issuer, audience });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'auth-test-'));
  svc = await startService('auth', {
    DATA_DIR: join(dir, 'auth'),
    AUTH_KEY_ENCRYPTION_KEY: KEK,
    AUTH_LOGIN_FREE_FAILURES: '3',
    LOG_LEVEL: 'debug',
  });
  jwks = createRemoteJWKSet(new URL(`${svc.url}/.well-known/jwks.json`), { cooldownDuration: 0 });
});

afterAll(async () => {
  expect(await svc?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

describe('accounts and sessions', () => {
  it('signs up (first user is admin), rejects duplicates and weak passwords', async () => {
    const a = await signup('Admin@Example.com', 'admin-password-1');
    expect(a.status).toBe(201);
    expect(a.body).toMatchObject({ email: 'admin@example.com', role: 'admin' });
    expect(JSON.stringify(a.body)).not.toContain('password');
    const b = await signup('viewer@example.com', 'viewer-password-1');
    expect(b.body.role).toBe('viewer');
    expect((await signup('viewer@example.com', 'another-password')).status).toBe(409);
    expect((await signup('weak@example.com', 'short')).status).toBe(400);
    for (const common of ['password', '12345678', 'weak@example.com']) {
      // Not through signup(): these words appear in logs anyway, so they cannot be leak markers.
      const r = await call('/auth/signup', { email: 'weak@example.com', password: common });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('WEAK_PASSWORD');
      expect(r.body.detail).toMatch(/common or breached/);
    }
    expect((await signup('not-an-email', 'long-enough-pw')).status).toBe(400);
  });

  it('logs in and issues EdDSA access tokens that verify against the JWKS', async () => {
    const r = await login('admin@example.com', 'admin-password-1');
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.body).toMatchObject({ expiresIn: 600, tokenType: 'Bearer' });
    const header = decodeProtectedHeader(r.body.accessToken);
    expect(header.alg).toBe('EdDSA');
    expect(typeof header.kid).toBe('string');
    const { payload } = await verify(r.body.accessToken);
    expect(payload).toMatchObject({ iss: issuer, aud: audience, role: 'admin' });
    expect(payload.exp! - payload.iat!).toBe(600);
    const me = await call('/auth/me', undefined, { authorization: `Bearer ${r.body.accessToken}` });
    expect(me.body).toMatchObject({ sub: payload.sub, role: 'admin' });
    expect((await login('admin@example.com', 'wrong-password')).status).toBe(401);
    expect((await login('nobody@example.com', 'whatever-pw')).status).toBe(401);
  });

  it('rotates refresh tokens on every use and revokes the family on reuse', async () => {
    const first = await login('viewer@example.com', 'viewer-password-1');
    const rt1 = first.body.refreshToken;
    const second = await call('/auth/refresh', { refreshToken: rt1 });
    expect(second.status).toBe(200);
    secrets.push(second.body.refreshToken, second.body.accessToken);
    const rt2 = second.body.refreshToken;
    expect(rt2).not.toBe(rt1);
    const third = await call('/auth/refresh', { refreshToken: rt2 });
    expect(third.status).toBe(200);
    secrets.push(third.body.refreshToken, third.body.accessToken);
    // An attacker replays the stolen rt1: refused, and the whole family dies.
    const replay = await call('/auth/refresh', { refreshToken: rt1 });
    expect(replay.status).toBe(401);
    expect(replay.body.code).toBe('REFRESH_REUSED');
    expect((await call('/auth/refresh', { refreshToken: third.body.refreshToken })).status).toBe(401);
    // Another session of the same user is unaffected.
    const other = await login('viewer@example.com', 'viewer-password-1');
    expect((await call('/auth/refresh', { refreshToken: other.body.refreshToken })).status).toBe(200);
    expect((await call('/auth/refresh', { refreshToken: 'rt_not-a-token' })).status).toBe(401);
  });

  it('logout revokes the session family', async () => {
    const s = await login('viewer@example.com', 'viewer-password-1');
    const next = await call('/auth/refresh', { refreshToken: s.body.refreshToken });
    secrets.push(next.body.refreshToken);
    expect((await call('/auth/logout', { refreshToken: s.body.refreshToken })).status).toBe(204);
    expect((await call('/auth/refresh', { refreshToken: next.body.refreshToken })).status).toBe(401);
    expect((await call('/auth/logout', { refreshToken: 'rt_unknown' })).status).toBe(204);
  });
});

describe('tokens that must be rejected', () => {
  let good: string;
  beforeAll(async () => {
    good = (await login('admin@example.com', 'admin-password-1')).body.accessToken;
  });

  async function rejected(token: string) {
    await expect(verify(token)).rejects.toThrow();
    const me = await call('/auth/me', undefined, { authorization: `Bearer ${token}` });
    expect(me.status).toBe(401);
  }

  it('signature changed (forged)', async () => {
    const [h, p, s] = good.split('.');
    const flipped = (s![0] === 'A' ? 'B' : 'A') + s!.slice(1);
    await rejected(`${h}.${p}.${flipped}`);
    // Claims changed (role escalation) under the original signature.
    const claims = { ...decodeJwt(good), role: 'admin', sub: 'someone-else' };
    await rejected(`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`);
  });

  it('alg=none', async () => {
    const claims = decodeJwt(good);
    const unsigned = new UnsecuredJWT({ ...claims }).encode();
    await rejected(unsigned);
    const header = Buffer.from(
      JSON.stringify({ alg: 'none', kid: decodeProtectedHeader(good).kid }),
    ).toString('base64url');
    await rejected(`${header}.${good.split('.')[1]}.`);
  });

  it('signed with the wrong key (same kid)', async () => {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const kid = decodeProtectedHeader(good).kid!;
    const forged = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('attacker')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    await rejected(forged);
    // HS256 "keyed" with the public JWK (algorithm confusion).
    const pub = (await call('/.well-known/jwks.json')).body.keys.find((k: JWK) => k.kid === kid);
    const confused = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256', kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('attacker')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JSON.stringify(pub)));
    await rejected(confused);
  });

  it('expired (signed with the real key, exp in the past) and wrong audience', async () => {
    // Keys are sealed at rest; the test knows AUTH_KEY_ENCRYPTION_KEY and can unseal the current one.
    const db = new Database(join(dir, 'auth', 'auth.db'), { readonly: true });
    const rows = db.prepare('SELECT kid, private_jwk, state FROM signing_keys').all() as {
      kid: string;
      private_jwk: string;
      state: string;
    }[];
    db.close();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) {
      expect(r.private_jwk.startsWith('v1:')).toBe(true);
      expect(r.private_jwk).not.toContain('"d"');
    }
    const cur = rows.find((r) => r.state === 'current')!;
    const key = await importJWK(JSON.parse(unseal(cur.private_jwk, deriveKek(KEK))) as JWK, 'EdDSA');
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', kid: cur.kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('x')
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 1800)
      .sign(key);
    await rejected(expired);
    const otherAud = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', kid: cur.kid })
      .setIssuer(issuer)
      .setAudience('another-system')
      .setSubject('x')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    await rejected(otherAud);
  });
});

describe('key rotation', () => {
  it('publishes current and previous keys; revokePrevious withdraws the old key', async () => {
    const admin = (await login('admin@example.com', 'admin-password-1')).body.accessToken;
    const viewer = (await login('viewer@example.com', 'viewer-password-1')).body.accessToken;
    const auth = { authorization: `Bearer ${admin}` };
    expect((await call('/auth/admin/rotate-keys', {}, { authorization: `Bearer ${viewer}` })).status).toBe(
      403,
    );
    expect((await call('/auth/admin/rotate-keys', {})).status).toBe(401);
    const oldKid = decodeProtectedHeader(admin).kid;
    const r = await call('/auth/admin/rotate-keys', {}, auth);
    expect(r.status).toBe(200);
    expect(r.body.kid).not.toBe(oldKid);
    const kids = (await call('/.well-known/jwks.json')).body.keys.map((k: JWK) => k.kid);
    expect(kids).toContain(oldKid);
    expect(kids).toContain(r.body.kid);
    const fresh = (await login('admin@example.com', 'admin-password-1')).body.accessToken;
    expect(decodeProtectedHeader(fresh).kid).toBe(r.body.kid);
    await verify(admin); // tokens signed before the rotation stay valid
    // Emergency rotation: the current key (and the pre-published next one) are withdrawn at once.
    const r2 = await call(
      '/auth/admin/rotate-keys',
      { revokePrevious: true },
      { authorization: `Bearer ${fresh}` },
    );
    expect(r2.status).toBe(200);
    const after = (await call('/.well-known/jwks.json')).body.keys.map((k: JWK) => k.kid);
    expect(after).not.toContain(r.body.kid);
    expect((await call('/auth/me', undefined, { authorization: `Bearer ${fresh}` })).status).toBe(401);
  });
});

describe('admin and service accounts', () => {
  let admin: string;
  beforeAll(async () => {
    admin = (await login('admin@example.com', 'admin-password-1')).body.accessToken;
  });

  it('changes roles (admin only)', async () => {
    const users = await call('/auth/admin/users', undefined, { authorization: `Bearer ${admin}` });
    const viewer = users.body.users.find((u: { email: string }) => u.email === 'viewer@example.com');
    const res = await fetch(`${svc.url}/auth/admin/users/${viewer.id}/role`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ role: 'editor' }),
    });
    expect(res.status).toBe(200);
    const t = (await login('viewer@example.com', 'viewer-password-1')).body.accessToken;
    expect(decodeJwt(t).role).toBe('editor');
    expect((await call('/auth/admin/users', undefined, { authorization: `Bearer ${t}` })).status).toBe(403);
  });

  it('issues client-credentials tokens (form, JSON, Basic) and refuses bad secrets', async () => {
    const c = await call(
      '/auth/admin/clients',
      { name: 'analytics-job', role: 'viewer' },
      { authorization: `Bearer ${admin}` },
    );
    expect(c.status).toBe(201);
    const { clientId, clientSecret } = c.body;
    secrets.push(clientSecret);
    const form = await fetch(`${svc.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_secret: clientSecret,
      }),
    });
    expect(form.status).toBe(200);
    const tok = (await form.json()) as { access_token: string };
    expect(tok).toMatchObject({ token_type: 'Bearer', expires_in: 600 });
    secrets.push(tok.access_token);
    const { payload } = await verify(tok.access_token);
    expect(payload).toMatchObject({ sub: clientId, client_id: clientId, role: 'viewer' });
    const json = await call('/auth/token', {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    expect(json.status).toBe(200);
    secrets.push(json.body.access_token);
    const basic = await fetch(`${svc.url}/auth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(basic.status).toBe(200);
    secrets.push(((await basic.json()) as { access_token: string }).access_token);
    const bad = await call('/auth/token', {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: 'cs_wrong',
    });
    expect(bad.status).toBe(401);
    expect(bad.body.error).toBe('invalid_client');
    const grant = await call('/auth/token', {
      grant_type: 'password',
      client_id: clientId,
      client_secret: clientSecret,
    });
    expect(grant.body.error).toBe('unsupported_grant_type');
    const del = await fetch(`${svc.url}/auth/admin/clients/${clientId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(del.status).toBe(204);
    const listed = await call('/auth/admin/clients', undefined, { authorization: `Bearer ${admin}` });
    const entry = listed.body.clients.find((c: { clientId: string }) => c.clientId === clientId);
    expect(entry).toMatchObject({ name: 'analytics-job', role: 'viewer' });
    expect(entry.revokedAt).not.toBeNull();
    expect(JSON.stringify(listed.body)).not.toContain(clientSecret);
    const revoked = await call('/auth/token', {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    });
    expect(revoked.status).toBe(401);
  });

  it('grants a service client scopes, which its tokens carry and may narrow', async () => {
    const c = await call(
      '/auth/admin/clients',
      { name: 'content-producer', role: 'viewer', scopes: ['analytics:write'] },
      { authorization: `Bearer ${admin}` },
    );
    expect(c.status).toBe(201);
    secrets.push(c.body.clientSecret);
    const creds = {
      grant_type: 'client_credentials',
      client_id: c.body.clientId,
      client_secret: c.body.clientSecret,
    };
    const all = await call('/auth/token', creds);
    secrets.push(all.body.access_token);
    expect((await verify(all.body.access_token)).payload.scope).toBe('analytics:write');
    const bad = await call('/auth/token', { ...creds, scope: 'analytics:write admin:everything' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_scope');
    const unknownScope = await call(
      '/auth/admin/clients',
      { name: 'x', scopes: ['root'] },
      { authorization: `Bearer ${admin}` },
    );
    expect(unknownScope.status).toBe(400);
  });
});

describe('throttling', () => {
  it('locks an account after repeated failures with 429 and Retry-After, whatever the password', async () => {
    await signup('target@example.com', 'target-password-1');
    const ip = { 'x-forwarded-for': '192.0.2.77' };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call('/auth/login', { email: 'target@example.com', password: `guess-${i}-xxxx` }, ip);
      statuses.push(r.status);
      if (r.status === 429) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    expect(statuses.slice(0, 3)).toEqual([401, 401, 401]);
    expect(statuses).toContain(429);
    // The right password does not get through from the guessing client while it is locked...
    const locked = await call(
      '/auth/login',
      { email: 'target@example.com', password: 'target-password-1' },
      ip,
    );
    expect(locked.status).toBe(429);
    // ...but the owner, from elsewhere, is not locked out by someone else's guesses.
    const owner = await login('target@example.com', 'target-password-1');
    expect(owner.status).toBe(200);
    // Unknown accounts are throttled the same way (no enumeration through 429s).
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++)
      unknown.push(
        (await call('/auth/login', { email: 'ghost@example.com', password: `guess-${i}-xxxx` }, ip)).status,
      );
    expect(unknown).toContain(429);
  });
});

describe('parallel guessing', () => {
  it('a burst of parallel wrong passwords gets at most the free failures verified', async () => {
    await signup('burst@example.com', 'burst-password-1');
    const ip = { 'x-forwarded-for': '198.51.100.9' };
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call('/auth/login', { email: 'burst@example.com', password: `parallel-${i}-guess` }, ip).then(
          (r) => r.status,
        ),
      ),
    );
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(9);
  });
});

describe('logs', () => {
  it('carry audit events and never a password, token or client secret', async () => {
    const logs = svc.logs();
    const types = new Set(logs.filter((l) => l.audit === true).map((l) => l.type));
    for (const t of [
      'auth.signup',
      'auth.login_failed',
      'auth.login_throttled',
      'auth.refresh_reuse',
      'auth.keys_rotated',
      'auth.role_changed',
      'auth.client_token_issued',
    ])
      expect(types).toContain(t);
    const out = svc.stdout();
    expect(secrets.length).toBeGreaterThan(20);
    for (const s of secrets) expect(out).not.toContain(s);
    expect(out).not.toContain(KEK);
  });
});
