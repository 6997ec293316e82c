/**
 * grpcurl (built from upstream, test/grpcurl) straight at the auth and analytics processes, the
 * way an operator debugs one service in development: server reflection (`list`, `describe`) on
 * each service's one port, then calls with the metadata the gateway would send. Reflection is off
 * when NODE_ENV=production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../runtime/auth/test/helpers/service-process.ts';
import { grpcurl, grpcurlSkipReason } from '../helpers/grpcurl.ts';

const skip = grpcurlSkipReason();
if (skip) console.warn(`skipping grpcurl against the services: ${skip}`);

describe.skipIf(skip !== undefined)('grpcurl against the services in development', () => {
  let dir: string;
  let auth: ServiceProcess;
  let analytics: ServiceProcess;
  const address = (svc: ServiceProcess) => `127.0.0.1:${svc.port}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'grpcurl-services-'));
    [auth, analytics] = await Promise.all([
      startService('auth', { DATA_DIR: join(dir, 'auth') }),
      startService('analytics', { DATA_DIR: join(dir, 'analytics') }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([auth?.stop(), analytics?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('auth: reflection lists and describes Auth; GetPrincipal answers for the bearer token only', async () => {
    const list = await grpcurl(['-plaintext', address(auth), 'list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split('\n')).toContain('platform.auth.v1.Auth');
    const described = await grpcurl(['-plaintext', address(auth), 'describe', 'platform.auth.v1.Principal']);
    // Reflection describes auth.proto as written (snake_case), although handlers see camelCase.
    expect(described.stdout).toMatch(/\.platform\.auth\.v1\.Role token_role = 4;/);

    const credentials = JSON.stringify({ email: 'ops@example.com', password: 'ops-correct-horse-42' });
    const post = (path: string) =>
      fetch(`${auth.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: credentials,
      });
    const user = (await (await post('/auth/signup')).json()) as { id: string };
    const { accessToken } = (await (await post('/auth/login')).json()) as { accessToken: string };

    const call = await grpcurl([
      '-plaintext',
      '-H',
      `authorization: Bearer ${accessToken}`,
      address(auth),
      'platform.auth.v1.Auth/GetPrincipal',
    ]);
    expect(call.exitCode, call.stderr).toBe(0);
    expect(JSON.parse(call.stdout)).toEqual({
      subject: user.id,
      role: 'ROLE_ADMIN',
      kind: 'KIND_USER',
      tokenRole: 'ROLE_ADMIN',
    });

    const anonymous = await grpcurl(['-plaintext', address(auth), 'platform.auth.v1.Auth/GetPrincipal']);
    expect(anonymous.exitCode).toBe(64 + 16);
    expect(anonymous.stderr).toContain('access token is missing, invalid or expired');
    const forged = await grpcurl([
      '-plaintext',
      '-H',
      `authorization: Bearer ${accessToken.slice(0, -4)}AAAA`,
      address(auth),
      'platform.auth.v1.Auth/GetPrincipal',
    ]);
    expect(forged.exitCode).toBe(64 + 16);
  });

  it('analytics: reflection lists Analytics; Ingest is idempotent by event id and GetContentStats counts once', async () => {
    const list = await grpcurl(['-plaintext', address(analytics), 'list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split('\n')).toContain('platform.analytics.v1.Analytics');

    // What the gateway forwards for a service client with the analytics:write scope.
    const producer = [
      '-H',
      'x-user-id: svc_grpcurl',
      '-H',
      'x-user-role: viewer',
      '-H',
      'x-user-scope: analytics:write',
    ];
    const events = JSON.stringify({
      events: [
        { id: 'grpcurl-e1', type: 'view', contentId: 'grpcurl-item', userId: 'u1' },
        { id: 'grpcurl-e2', type: 'view', contentId: 'grpcurl-item', userId: 'u2' },
      ],
    });
    const ingest = () =>
      grpcurl([
        '-plaintext',
        ...producer,
        '-d',
        events,
        address(analytics),
        'platform.analytics.v1.Analytics/Ingest',
      ]);
    const first = await ingest();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ accepted: 2 });
    expect(JSON.parse((await ingest()).stdout)).toEqual({ duplicates: 2 });

    const stats = await grpcurl([
      '-plaintext',
      ...producer,
      '-d',
      '{"contentId":"grpcurl-item"}',
      address(analytics),
      'platform.analytics.v1.Analytics/GetContentStats',
    ]);
    expect(stats.exitCode, stats.stderr).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ contentId: 'grpcurl-item', views: '2' });

    const anonymous = await grpcurl([
      '-plaintext',
      '-d',
      events,
      address(analytics),
      'platform.analytics.v1.Analytics/Ingest',
    ]);
    expect(anonymous.exitCode).toBe(64 + 16);
  });

  it('production: no reflection, so grpcurl needs the proto', async () => {
    const prod = await startService('auth', { DATA_DIR: join(dir, 'auth-prod'), NODE_ENV: 'production' });
    try {
      const list = await grpcurl(['-plaintext', `127.0.0.1:${prod.port}`, 'list']);
      expect(list.exitCode).not.toBe(0);
      expect(list.stderr).toMatch(/does not support the reflection API/);
      const withProto = await grpcurl([
        '-plaintext',
        '-import-path',
        join(import.meta.dirname, '..', '..', 'runtime', 'auth', 'proto'),
        '-proto',
        'auth.proto',
        `127.0.0.1:${prod.port}`,
        'platform.auth.v1.Auth/GetPrincipal',
      ]);
      expect(withProto.exitCode).toBe(64 + 16);
    } finally {
      await prod.stop();
    }
  });
});
