/**
 * The verified-token cache: hits skip the signature check, entries never outlive the token, and a
 * key the auth service withdraws stops admitting cached tokens as soon as the key set is fetched
 * again. Against a real JWKS endpoint on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { JwtVerifier } from '../src/jwt.ts';
import { echoUpstream, startGateway } from './helpers.ts';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function keyServer() {
  const jwks: { keys: JWK[] } = { keys: [] };
  const state = { fetches: 0 };
  const server = createServer((_req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  return {
    url,
    state,
    async publish(kid: string, pair: KeyPair) {
      jwks.keys.push({ ...(await exportJWK(pair.publicKey)), kid, alg: 'EdDSA', use: 'sig' });
    },
    withdraw(kid: string) {
      jwks.keys = jwks.keys.filter((k) => k.kid !== kid);
    },
  };
}

function sign(pair: KeyPair, kid: string, sub: string, expSeconds = Math.floor(Date.now() / 1000) + 300) {
  return new SignJWT({ role: 'editor' })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .setSubject(sub)
    .setIssuer('platformctl-auth')
    .setAudience('platform')
    .setIssuedAt()
    .setExpirationTime(expSeconds)
    .sign(pair.privateKey);
}

function verifier(jwksUrl: string) {
  return new JwtVerifier({ jwksUrl, issuer: 'platformctl-auth', audience: 'platform', cooldownMs: 0 });
}

describe('verified-token cache', () => {
  it('answers a known token from the cache, but never past its expiry', async () => {
    const keys = await keyServer();
    const k1 = await generateKeyPair('EdDSA', { extractable: true });
    await keys.publish('k1', k1);
    const v = verifier(keys.url);
    // Within the cache's own 60 s lifetime, so the token's expiry is what bounds the entry.
    const exp = Math.floor(Date.now() / 1000) + 30;
    const token = await sign(k1, 'k1', 'user-1', exp);

    expect(v.cached(token)).toBeUndefined();
    expect(await v.verify(token)).toMatchObject({ ok: true, identity: { userId: 'user-1' } });
    expect(v.cached(token)).toMatchObject({ userId: 'user-1' });
    expect(v.cachedTokens).toBe(1);
    // A second of the token's life left: still served from the cache.
    expect(v.cached(token, exp * 1000 - 1000)).toMatchObject({ userId: 'user-1' });
    // At its expiry the entry is gone, whatever the cache's own lifetime would allow.
    expect(v.cached(token, exp * 1000)).toBeUndefined();
    expect(v.cachedTokens).toBe(0);
  });

  it('re-verifies cached tokens once the key set is fetched again, so a withdrawn key stops working', async () => {
    const keys = await keyServer();
    const k1 = await generateKeyPair('EdDSA', { extractable: true });
    const k2 = await generateKeyPair('EdDSA', { extractable: true });
    await keys.publish('k1', k1);
    const v = verifier(keys.url);
    const old = await sign(k1, 'k1', 'user-old');
    expect(await v.verify(old)).toMatchObject({ ok: true });
    expect(v.cached(old)).toBeDefined();
    expect(keys.state.fetches).toBe(1);

    // Rotation: k1 is withdrawn, k2 published. The first k2 token makes the gateway fetch the set.
    keys.withdraw('k1');
    await keys.publish('k2', k2);
    const fresh = await sign(k2, 'k2', 'user-new');
    expect(await v.verify(fresh)).toMatchObject({ ok: true, identity: { userId: 'user-new' } });
    expect(keys.state.fetches).toBe(2);

    // The k1 token is no longer taken from the cache, and verifying it again fails.
    expect(v.cached(old)).toBeUndefined();
    expect(await v.verify(old)).toEqual({ ok: false, reason: 'unknown signing key' });
    // Tokens of a key still in the set are admitted again (verified once more, then cached).
    expect(await v.verify(fresh)).toMatchObject({ ok: true });
    expect(v.cached(fresh)).toMatchObject({ userId: 'user-new' });
  });

  it("remembers a connection's last token, but never answers another token, an expired one or one of a withdrawn key from it", async () => {
    const keys = await keyServer();
    const k1 = await generateKeyPair('EdDSA', { extractable: true });
    const k2 = await generateKeyPair('EdDSA', { extractable: true });
    await keys.publish('k1', k1);
    const v = verifier(keys.url);
    const exp = Math.floor(Date.now() / 1000) + 30;
    const alice = await sign(k1, 'k1', 'alice', exp);
    const bob = await sign(k1, 'k1', 'bob');
    expect(await v.verify(alice)).toMatchObject({ ok: true });
    expect(await v.verify(bob)).toMatchObject({ ok: true });
    const connection = {};
    const other = {};
    expect(v.cachedOn(connection, alice)).toMatchObject({ userId: 'alice' });
    // Another token on the same connection is looked up, not taken from the remembered one.
    expect(v.cachedOn(connection, bob)).toMatchObject({ userId: 'bob' });
    expect(v.cachedOn(connection, alice)).toMatchObject({ userId: 'alice' });
    expect(v.cachedOn(other, bob)).toMatchObject({ userId: 'bob' });
    // A token never verified is not trusted because the connection's last token was.
    expect(v.cachedOn(connection, await sign(k1, 'k1', 'mallory'))).toBeUndefined();
    expect(v.cachedOn(connection, alice)).toMatchObject({ userId: 'alice' });
    // Expiry holds for the remembered token too.
    expect(v.cachedOn(connection, alice, exp * 1000)).toBeUndefined();

    // Rotation: once the key set is fetched again, the remembered k1 tokens are verified afresh.
    expect(v.cachedOn(connection, bob)).toMatchObject({ userId: 'bob' });
    keys.withdraw('k1');
    await keys.publish('k2', k2);
    expect(await v.verify(await sign(k2, 'k2', 'carol'))).toMatchObject({ ok: true });
    expect(v.cachedOn(connection, bob)).toBeUndefined();
    expect(await v.verify(bob)).toEqual({ ok: false, reason: 'unknown signing key' });
  });

  it('never caches a token that failed verification', async () => {
    const keys = await keyServer();
    const k1 = await generateKeyPair('EdDSA', { extractable: true });
    const other = await generateKeyPair('EdDSA', { extractable: true });
    await keys.publish('k1', k1);
    const v = verifier(keys.url);
    const forged = await sign(other, 'k1', 'admin');
    expect(await v.verify(forged)).toEqual({ ok: false, reason: 'bad signature' });
    expect(v.cached(forged)).toBeUndefined();
    expect(v.cachedTokens).toBe(0);
  });
});

describe('rate limit per verified user', () => {
  it('gives each user one bucket, whichever of their tokens they send, and other users their own', async () => {
    const keys = await keyServer();
    const k1 = await generateKeyPair('EdDSA', { extractable: true });
    await keys.publish('k1', k1);
    const upstream = await echoUpstream('content');
    const gw = await startGateway(
      {
        routes: [{ prefix: '/content', service: 'content' }],
        services: { content: { instances: [{ id: 'c', url: upstream.url }] } },
      },
      { AUTH_JWKS_URL: keys.url, AUTH_JWKS_COOLDOWN_MS: '0', RATE_LIMIT_RPS: '0.001', RATE_LIMIT_BURST: '2' },
    );
    try {
      const now = Math.floor(Date.now() / 1000);
      // Two distinct tokens of one user (different expiries), and a token of another user.
      const alice1 = await sign(k1, 'k1', 'alice', now + 300);
      const alice2 = await sign(k1, 'k1', 'alice', now + 301);
      const bob = await sign(k1, 'k1', 'bob', now + 300);
      expect(alice1).not.toBe(alice2);
      const status = async (token: string) =>
        (await fetch(`${gw.url}/content/x`, { headers: { authorization: `Bearer ${token}` } })).status;
      expect([await status(alice1), await status(alice2), await status(alice1)]).toEqual([200, 200, 429]);
      expect(await status(alice2)).toBe(429);
      expect([await status(bob), await status(bob), await status(bob)]).toEqual([200, 200, 429]);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
