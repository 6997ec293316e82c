/**
 * A signing key the benchmarks' gateways trust: the public half as a JWKS document, and bearer
 * tokens signed with the private half, shaped like the auth service's (issuer, audience, 2 h).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface BenchSigner {
  /** The JWKS document (one EdDSA key). */
  jwks: string;
  /** A token for `subject` with these claims (role, scope…). */
  token(subject: string, claims: Record<string, unknown>): Promise<string>;
}

export async function benchSigner(kid: string): Promise<BenchSigner> {
  const pair = await generateKeyPair('EdDSA', { extractable: true });
  const jwks = JSON.stringify({
    keys: [{ ...(await exportJWK(pair.publicKey)), kid, alg: 'EdDSA', use: 'sig' }],
  });
  return {
    jwks,
    token: (subject, claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'EdDSA', kid })
        .setSubject(subject)
        .setIssuer('platformctl-auth')
        .setAudience('platform')
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(pair.privateKey),
  };
}

/** Serves a JWKS document on a free 127.0.0.1 port. */
export async function serveJwks(jwks: string): Promise<{ url: string; close: () => void }> {
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    close: () => server.close(),
  };
}
