/**
 * grpcurl (built from upstream, test/grpcurl) against the gateway process: reflection answered by
 * the gateway (list, describe), a call with a bearer token proxied to a grpc-js upstream, and
 * UNAUTHENTICATED without one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchSigner, serveJwks } from '../../../bench/bench-token.ts';
import { grpcurl, grpcurlSkipReason } from '../../../test/helpers/grpcurl.ts';
import { echoGrpcUpstream, type GatewayProcess, type GrpcUpstream, spawnGateway } from './grpc-helpers.ts';

const skip = grpcurlSkipReason();
if (skip) console.warn(`skipping grpcurl through the gateway: ${skip}`);

describe.skipIf(skip !== undefined)('grpcurl through the gateway', () => {
  let jwks: { url: string; close: () => void };
  let token: string;
  let upstream: GrpcUpstream;
  let gw: GatewayProcess;

  beforeAll(async () => {
    const signer = await benchSigner('grpcurl');
    jwks = await serveJwks(signer.jwks);
    token = await signer.token('user-grpcurl', { role: 'viewer' });
    upstream = await echoGrpcUpstream('echo-1', '1.0.0');
    gw = await spawnGateway(
      {
        routes: [{ prefix: '/echo', service: 'echo' }],
        services: { echo: { instances: [{ id: 'echo-1', url: upstream.url, version: '1.0.0' }] } },
      },
      { AUTH_JWKS_URL: jwks.url, ACCESS_LOG: 'false' },
    );
  });

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    jwks?.close();
  });

  it('lists and describes the services from the gateway reflection', async () => {
    const list = await grpcurl(['-plaintext', gw.address, 'list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split('\n')).toContain('platform.echo.v1.Echo');

    const describeOut = await grpcurl(['-plaintext', gw.address, 'describe', 'platform.echo.v1.Echo']);
    expect(describeOut.exitCode, describeOut.stderr).toBe(0);
    expect(describeOut.stdout).toContain(
      'rpc Say ( .platform.echo.v1.SayRequest ) returns ( .platform.echo.v1.SayReply );',
    );
    expect(describeOut.stdout).toContain(
      'rpc Count ( .platform.echo.v1.CountRequest ) returns ( stream .platform.echo.v1.SayReply );',
    );
    // Field names as the .proto writes them, so code generated from reflection matches the file.
    const message = await grpcurl(['-plaintext', gw.address, 'describe', 'platform.echo.v1.SayRequest']);
    expect(message.exitCode, message.stderr).toBe(0);
    expect(message.stdout).toMatch(/int32 fail_with = 2;/);
    expect(message.stdout).toMatch(/int32 delay_ms = 3;/);
  });

  it('calls a method with a bearer token and is refused without one', async () => {
    const ok = await grpcurl([
      '-plaintext',
      '-H',
      `authorization: Bearer ${token}`,
      '-d',
      '{"text":"hello from grpcurl"}',
      gw.address,
      'platform.echo.v1.Echo/Say',
    ]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const reply = JSON.parse(ok.stdout) as { text: string; instance: string; userId: string };
    expect(reply).toMatchObject({ text: 'hello from grpcurl', instance: 'echo-1', userId: 'user-grpcurl' });

    const refused = await grpcurl([
      '-plaintext',
      '-d',
      '{"text":"x"}',
      gw.address,
      'platform.echo.v1.Echo/Say',
    ]);
    // grpcurl exits with 64 + the status code.
    expect(refused.exitCode).toBe(64 + 16);
    expect(refused.stderr).toContain('Code: Unauthenticated');
    expect(refused.stderr).toContain('missing bearer token');
  });
});
