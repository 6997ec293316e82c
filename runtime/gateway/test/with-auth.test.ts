/**
 * The gateway against the real auth service (runtime/auth as a child process): tokens it issues
 * are accepted with the default issuer/audience, identities are forwarded, and the JWKS is fetched
 * through the same URL the local provider configures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../auth/test/helpers/service-process.ts';
import { echoUpstream, startGateway, type TestGateway, type TestServer } from './helpers.ts';

describe('gateway with the auth service', () => {
  let dir: string;
  let auth: ServiceProcess;
  let content: TestServer;
  let gw: TestGateway;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-auth-'));
    auth = await startService('auth', { DATA_DIR: join(dir, 'auth'), SERVICE_NAME: 'auth' });
    content = await echoUpstream('content');
    const authUrl = auth.url;
    gw = await startGateway(
      {
        routes: [
          { prefix: '/auth', service: 'auth' },
          { prefix: '/.well-known', service: 'auth' },
          { prefix: '/content', service: 'content' },
        ],
        services: {
          auth: { instances: [{ id: 'auth-1', url: authUrl, version: '1.0.0' }] },
          content: { instances: [{ id: 'content-1', url: content.url, version: '1.0.0' }] },
        },
      },
      { AUTH_JWKS_URL: `${authUrl}/.well-known/jwks.json` },
    );
  });

  afterAll(async () => {
    await gw?.close();
    await content?.close();
    await auth?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('signs up and logs in through the gateway, then reaches content as the verified user', async () => {
    const credentials = { email: 'gw@example.com', password: 'a long enough passphrase 42' };
    const signup = await fetch(`${gw.url}/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    expect(signup.status).toBeLessThan(300);
    const user = (await signup.json()) as { id: string; role: string };
    const login = await fetch(`${gw.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(credentials),
    });
    expect(login.status).toBe(200);
    const { accessToken } = (await login.json()) as { accessToken: string };

    const r = await fetch(`${gw.url}/content/mine`, {
      headers: { authorization: `Bearer ${accessToken}`, 'x-user-id': 'someone-else' },
    });
    expect(r.status).toBe(200);
    const { headers } = (await r.json()) as { headers: Record<string, string> };
    expect(headers['x-user-id']).toBe(user.id);
    expect(headers['x-user-role']).toBe(user.role);

    const tampered = `${accessToken.slice(0, -4)}AAAA`;
    expect(
      (await fetch(`${gw.url}/content/mine`, { headers: { authorization: `Bearer ${tampered}` } })).status,
    ).toBe(401);
  });
});
