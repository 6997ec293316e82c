import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoUpstream, startGateway, type TestGateway, type TestServer } from './helpers.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

describe('JWT verification against the JWKS', () => {
  const jwks: { keys: JWK[] } = { keys: [] };
  let jwksFetches = 0;
  let jwksServer: ReturnType<typeof createServer>;
  let upstream: TestServer;
  let gw: TestGateway;
  let k1: KeyPair;
  let other: KeyPair;

  async function publish(kid: string, pair: KeyPair): Promise<void> {
    jwks.keys.push({ ...(await exportJWK(pair.publicKey)), kid, alg: 'EdDSA', use: 'sig' });
  }

  function sign(
    pair: KeyPair,
    kid: string,
    opts: { exp?: string | number; iss?: string; aud?: string; sub?: string; scope?: string } = {},
  ) {
    return new SignJWT({ role: 'editor', ...(opts.scope ? { scope: opts.scope } : {}) })
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setSubject(opts.sub ?? 'user-1')
      .setIssuer(opts.iss ?? 'platformctl-auth')
      .setAudience(opts.aud ?? 'platform')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(pair.privateKey);
  }

  async function call(path: string, token?: string, headers: Record<string, string> = {}) {
    const r = await fetch(`${gw.url}${path}`, {
      headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    const body = (await r.json()) as { headers?: Record<string, string>; code?: string };
    return { status: r.status, body, www: r.headers.get('www-authenticate') };
  }

  beforeAll(async () => {
    k1 = await generateKeyPair('EdDSA', { extractable: true });
    other = await generateKeyPair('EdDSA', { extractable: true });
    await publish('k1', k1);
    jwksServer = createServer((_req, res) => {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    upstream = await echoUpstream('content');
    gw = await startGateway(
      {
        routes: [
          { prefix: '/content', service: 'content' },
          { prefix: '/auth', service: 'content' },
        ],
        services: { content: { instances: [{ id: 'c', url: upstream.url }] } },
      },
      { AUTH_JWKS_URL: jwksUrl, AUTH_JWKS_COOLDOWN_MS: '0' },
    );
  });

  afterAll(async () => {
    await gw.close();
    await upstream.close();
    jwksServer.closeAllConnections();
    await new Promise((r) => jwksServer.close(r));
  });

  it('accepts a valid token and forwards the verified identity, not the client-sent one', async () => {
    const r = await call('/content/mine', await sign(k1, 'k1'), {
      'x-user-id': 'admin',
      'x-user-role': 'admin',
    });
    expect(r.status).toBe(200);
    expect(r.body.headers?.['x-user-id']).toBe('user-1');
    expect(r.body.headers?.['x-user-role']).toBe('editor');
  });

  it("forwards the token's scope as x-user-scope and never a client-sent one", async () => {
    const forged = await call('/content/mine', await sign(k1, 'k1'), { 'x-user-scope': 'analytics:write' });
    expect(forged.body.headers?.['x-user-scope']).toBeUndefined();
    const service = await call(
      '/content/mine',
      await sign(k1, 'k1', { sub: 'svc_x', scope: 'analytics:write' }),
    );
    expect(service.body.headers?.['x-user-scope']).toBe('analytics:write');
  });

  it('requires a token where the route says so, with WWW-Authenticate', async () => {
    const r = await call('/content/mine');
    expect(r.status).toBe(401);
    expect(r.www).toMatch(/^Bearer/);
  });

  it('rejects forged, expired, alg=none, wrong-key, wrong-issuer and wrong-audience tokens', async () => {
    const valid = await sign(k1, 'k1');
    const [header, payload] = valid.split('.') as [string, string];
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url')}.${payload}.`;
    const tampered = `${header}.${Buffer.from(JSON.stringify({ sub: 'admin', role: 'admin', iss: 'platformctl-auth', aud: 'platform', exp: 9999999999 })).toString('base64url')}.${valid.split('.')[2]}`;
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject('admin')
      .setIssuer('platformctl-auth')
      .setAudience('platform')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    const cases: Record<string, string> = {
      forged: await sign(other, 'k1'),
      tampered,
      expired: await sign(k1, 'k1', { exp: Math.floor(Date.now() / 1000) - 60 }),
      none,
      hs256: hs,
      unknownKid: await sign(other, 'k-unknown'),
      wrongIssuer: await sign(k1, 'k1', { iss: 'someone-else' }),
      wrongAudience: await sign(k1, 'k1', { aud: 'other' }),
      garbage: 'not.a.jwt',
    };
    for (const [name, token] of Object.entries(cases)) {
      const r = await call('/content/mine', token);
      expect(r.status, name).toBe(401);
      expect(r.body.code, name).toBe('UNAUTHORIZED');
    }
  });

  it('picks up a rotated key by refetching the JWKS on an unknown kid', async () => {
    const k2 = await generateKeyPair('EdDSA', { extractable: true });
    const before = jwksFetches;
    const token = await sign(k2, 'k2', { sub: 'user-2' });
    expect((await call('/content/mine', token)).status).toBe(401);
    await publish('k2', k2);
    const r = await call('/content/mine', token);
    expect(r.status).toBe(200);
    expect(r.body.headers?.['x-user-id']).toBe('user-2');
    expect(jwksFetches).toBeGreaterThan(before);
  });

  it('lets public reads and /auth through without a token, but still rejects a bad one', async () => {
    const raw = await call('/content/abc/raw', undefined, { 'x-user-id': 'spoof' });
    expect(raw.status).toBe(200);
    expect(raw.body.headers?.['x-user-id']).toBeUndefined();
    expect((await call('/content/abc/variant')).status).toBe(200);
    expect((await call('/content/abc/raw', await sign(other, 'k1'))).status).toBe(401);
    const withToken = await call('/content/abc/raw', await sign(k1, 'k1'));
    expect(withToken.body.headers?.['x-user-id']).toBe('user-1');
    expect((await call('/auth/login')).status).toBe(200);
    const authRoute = await call('/auth/login', undefined, { 'x-user-role': 'admin' });
    expect(authRoute.body.headers?.['x-user-role']).toBeUndefined();
  });
});
