/**
 * gRPC through the gateway process: HTTP/2 prior-knowledge connections on the public port are
 * proxied to @grpc/grpc-js upstreams by package name, with the JWT check, version choice,
 * deadlines, retries, limits, metrics and reflection of the HTTP/1.1 side.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, constants } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchSigner, serveJwks } from '../../../bench/bench-token.ts';
import { GatewayMetricSource } from '../../../src/providers/metrics/gateway.ts';
import { protoFiles } from '../src/grpc-reflection.ts';
import {
  type EchoClient,
  echoClient,
  echoGrpcUpstream,
  type GatewayProcess,
  type GrpcUpstream,
  PROTO_DIR,
  type SayReply,
  say,
  spawnGateway,
} from './grpc-helpers.ts';
import { ADMIN_TOKEN, deadUrl } from './helpers.ts';

/** One raw gRPC call over node:http2 (no client-side deadline): the status the gateway sends. */
async function rawCall(
  address: string,
  path: string,
  headers: Record<string, string> = {},
  body: Buffer = Buffer.from([0, 0, 0, 0, 0]),
): Promise<{
  status: number;
  grpcStatus: string | undefined;
  message: string | undefined;
  trailersOnly: boolean;
}> {
  const session = connect(`http://${address}`);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      });
      let response: Record<string, unknown> = {};
      let trailersOnly = false;
      stream.on('response', (h, flags) => {
        response = h;
        trailersOnly = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      });
      stream.on('trailers', (t) => {
        response = { ...response, ...t };
      });
      stream.on('error', reject);
      stream.resume();
      stream.on('end', () =>
        resolve({
          status: Number(response[':status']),
          grpcStatus: response['grpc-status'] as string | undefined,
          message: response['grpc-message'] as string | undefined,
          trailersOnly,
        }),
      );
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** A SayRequest as a gRPC frame: field 1 text, field 3 delay_ms. */
function sayFrame(text: string, delayMs = 0): Buffer {
  const t = Buffer.from(text);
  const parts = [Buffer.from([0x0a, t.length]), t];
  if (delayMs > 0) {
    const varint: number[] = [];
    let v = delayMs;
    while (v > 0x7f) {
      varint.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    varint.push(v);
    parts.push(Buffer.from([0x18, ...varint]));
  }
  const msg = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

describe('gRPC through the gateway process', () => {
  let jwks: { url: string; close: () => void };
  let token: string;
  let stable: GrpcUpstream;
  let canary: GrpcUpstream;
  let gw: GatewayProcess;
  let client: EchoClient;

  beforeAll(async () => {
    const signer = await benchSigner('grpc-test');
    jwks = await serveJwks(signer.jwks);
    token = await signer.token('user-42', { role: 'viewer' });
    [stable, canary] = await Promise.all([
      echoGrpcUpstream('echo-1', 'v1'),
      echoGrpcUpstream('echo-2', 'v2'),
    ]);
    gw = await spawnGateway(
      {
        routes: [
          { prefix: '/echo', service: 'echo', timeouts: { headersMs: 1500 } },
          { prefix: '/limited', service: 'limited', rateLimit: { rps: 1, burst: 2 } },
          { prefix: '/empty', service: 'empty' },
        ],
        services: {
          echo: {
            instances: [
              { id: 'echo-1', url: stable.url, version: 'v1' },
              { id: 'echo-2', url: canary.url, version: 'v2' },
            ],
            weights: { v1: 90, v2: 10 },
          },
          limited: { instances: [{ id: 'echo-1', url: stable.url, version: 'v1' }] },
          empty: { instances: [] },
        },
      },
      { ADMIN_TOKEN, AUTH_JWKS_URL: jwks.url, ACCESS_LOG: 'false' },
    );
    client = echoClient(gw.address);
  });

  afterAll(async () => {
    client?.close();
    await gw?.stop();
    await Promise.all([stable?.close(), canary?.close()]);
    jwks?.close();
  });

  const auth = () => ({ authorization: `Bearer ${token}` });

  it('routes a unary call by package and forwards the verified identity, request id, trace and deadline', async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await say(client, { text: 'hi' }, { ...auth(), traceparent, 'x-user-id': 'forged' }, 5000);
    expect(r.code).toBe(0);
    const reply = r.reply as SayReply;
    expect(reply.text).toBe('hi');
    expect(['echo-1', 'echo-2']).toContain(reply.instance);
    expect(reply.userId).toBe('user-42');
    expect(reply.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // Same trace, the gateway's span as the parent.
    expect(reply.traceparent.split('-')[1]).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(reply.traceparent.split('-')[2]).not.toBe('b7ad6b7169203331');
    // What is left of the caller's deadline, passed on.
    const forwarded = Number(/^(\d+)m$/.exec(reply.grpcTimeout)?.[1]);
    expect(forwarded).toBeGreaterThan(0);
    expect(forwarded).toBeLessThanOrEqual(5000);
  });

  it('answers UNAUTHENTICATED without a token or with a bad one, as a trailers-only response', async () => {
    expect((await say(client, { text: 'x' })).code).toBe(16);
    expect((await say(client, { text: 'x' }, { authorization: 'Bearer not.a.jwt' })).code).toBe(16);
    const raw = await rawCall(gw.address, '/platform.echo.v1.Echo/Say');
    expect(raw).toMatchObject({ status: 200, grpcStatus: '16', trailersOnly: true });
    expect(raw.message).toBe('missing bearer token');
  });

  it('answers UNIMPLEMENTED for a package no platform service serves, UNAVAILABLE without instances', async () => {
    expect(await rawCall(gw.address, '/platform.nothing.v1.Nothing/Do', auth())).toMatchObject({
      grpcStatus: '12',
      trailersOnly: true,
    });
    expect(await rawCall(gw.address, '/other.Service/Do', auth())).toMatchObject({ grpcStatus: '12' });
    expect(await rawCall(gw.address, '/platform.empty.v1.Echo/Say', auth())).toMatchObject({
      grpcStatus: '14',
    });
  });

  it('relays the upstream status and message, and streams both ways', async () => {
    const notFound = await say(client, { text: 'x', failWith: 5 }, auth());
    expect(notFound.code).toBe(5);
    expect(notFound.details).toMatch(/fails on purpose/);

    const md = new (await import('@grpc/grpc-js')).Metadata();
    md.set('authorization', `Bearer ${token}`);
    const counted: string[] = await new Promise((resolve, reject) => {
      const texts: string[] = [];
      const call = (client.count as (r: unknown, m: unknown) => NodeJS.EventEmitter)({ n: 50 }, md);
      call.on('data', (m: SayReply) => texts.push(m.text));
      call.on('error', reject);
      call.on('end', () => resolve(texts));
    });
    expect(counted).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));

    const collected: SayReply = await new Promise((resolve, reject) => {
      const call = (
        client.collect as (m: unknown, cb: (e: Error | null, r: SayReply) => void) => NodeJS.WritableStream
      )(md, (err, r) => (err ? reject(err) : resolve(r)));
      for (const text of ['a', 'b', 'c']) call.write({ text } as never);
      call.end();
    });
    expect(collected.text).toBe('a,b,c');
  });

  it('honours grpc-timeout itself: DEADLINE_EXCEEDED when the upstream is slower', async () => {
    const raw = await rawCall(
      gw.address,
      '/platform.echo.v1.Echo/Say',
      { ...auth(), 'grpc-timeout': '200m' },
      sayFrame('slow', 3000),
    );
    expect(raw).toMatchObject({ status: 200, grpcStatus: '4' });
  });

  it("answers DEADLINE_EXCEEDED when the upstream misses the route's headers timeout", async () => {
    const raw = await rawCall(gw.address, '/platform.echo.v1.Echo/Say', auth(), sayFrame('slow', 4000));
    expect(raw).toMatchObject({ status: 200, grpcStatus: '4', trailersOnly: true });
    expect(raw.message).toMatch(/did not answer in time/);
  });

  it('cancels the upstream call when the client cancels, and counts it as 499', async () => {
    const before = stable.cancelled + canary.cancelled;
    const calls = stable.calls + canary.calls;
    const session = connect(`http://${gw.address}`);
    const stream = session.request({
      ':method': 'POST',
      ':path': '/platform.echo.v1.Echo/Say',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...auth(),
    });
    stream.on('error', () => {});
    stream.end(sayFrame('cancel me', 3000));
    while (stable.calls + canary.calls === calls) await new Promise((r) => setTimeout(r, 20));
    stream.close(constants.NGHTTP2_CANCEL);
    while (stable.cancelled + canary.cancelled === before) await new Promise((r) => setTimeout(r, 20));
    session.close();
    const metrics = await (
      await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(
      /gateway_requests_total\{[^}]*route="\/echo",service="echo",[^}]*code="499"[^}]*\} 1/,
    );
  });

  it('refuses calls over the route rate limit with RESOURCE_EXHAUSTED', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await rawCall(gw.address, '/platform.limited.v1.Echo/Say', auth(), sayFrame('x'));
      codes.push(Number(r.grpcStatus));
    }
    // The burst of 2 is admitted and reaches the upstream, which serves no `platform.limited`
    // package (its own UNIMPLEMENTED); the rest is refused by the gateway.
    expect(codes.slice(0, 2)).toEqual([12, 12]);
    expect(codes).toContain(8);
  });

  it('keeps serving HTTP/1.1 on the same port', async () => {
    const r = await fetch(`${gw.url}/healthz`);
    expect(r.status).toBe(200);
  });

  it('lists every proto service through reflection', async () => {
    // ServerReflectionRequest { list_services: "" } (field 7).
    const frame = Buffer.from([0, 0, 0, 0, 2, 58, 0]);
    const session = connect(`http://${gw.address}`);
    const text: string = await new Promise((resolve, reject) => {
      const s = session.request({
        ':method': 'POST',
        ':path': '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let data = '';
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
      });
      s.on('error', reject);
      s.on('end', () => resolve(data));
      s.end(frame);
    });
    session.close();
    expect(text).toContain('platform.echo.v1.Echo');
  });
});

describe('a canary of a gRPC service', () => {
  let jwks: { url: string; close: () => void };
  let token: string;
  let v1: GrpcUpstream;
  let v2: GrpcUpstream;
  let gw: GatewayProcess;
  let client: EchoClient;

  beforeAll(async () => {
    const signer = await benchSigner('grpc-canary');
    jwks = await serveJwks(signer.jwks);
    token = await signer.token('user-7', {});
    [v1, v2] = await Promise.all([echoGrpcUpstream('echo-v1', 'v1'), echoGrpcUpstream('echo-v2', 'v2')]);
    gw = await spawnGateway(
      {
        routes: [{ prefix: '/echo', service: 'echo' }],
        services: {
          echo: {
            instances: [
              { id: 'echo-v1', url: v1.url, version: 'v1' },
              { id: 'echo-v2', url: v2.url, version: 'v2' },
              // Never listening: calls that land here are retried on a live instance of the version.
              { id: 'echo-v1-dead', url: await deadUrl(), version: 'v1' },
            ],
            weights: { v1: 90, v2: 10 },
          },
        },
      },
      {
        ADMIN_TOKEN,
        AUTH_JWKS_URL: jwks.url,
        ACCESS_LOG: 'false',
        BREAKER_FAILURES: '1000',
        RETRY_BUDGET_RATIO: '1',
      },
    );
    client = echoClient(gw.address);
  });

  afterAll(async () => {
    client?.close();
    await gw?.stop();
    await Promise.all([v1?.close(), v2?.close()]);
    jwks?.close();
  });

  it('splits calls 90/10 by weight, pins by header, and shows non-OK statuses as errors of the version', async () => {
    const md = { authorization: `Bearer ${token}` };
    const versions: Record<string, number> = { v1: 0, v2: 0 };
    for (let batch = 0; batch < 10; batch++) {
      const replies = await Promise.all(Array.from({ length: 50 }, () => say(client, { text: 'x' }, md)));
      for (const r of replies) {
        expect(r.code).toBe(0);
        versions[(r.reply as SayReply).version] = (versions[(r.reply as SayReply).version] ?? 0) + 1;
      }
    }
    // Binomial(500, 0.1): mean 50, sd 6.7; ±5 sd.
    expect(versions.v2).toBeGreaterThan(16);
    expect(versions.v2).toBeLessThan(84);
    expect((versions.v1 ?? 0) + (versions.v2 ?? 0)).toBe(500);

    for (let i = 0; i < 10; i++) {
      expect((await say(client, { text: 'x' }, { ...md, 'x-canary': 'always' })).reply?.version).toBe('v2');
      expect((await say(client, { text: 'x' }, { ...md, 'x-canary': 'v1' })).reply?.version).toBe('v1');
    }
    // The canary fails 20 calls with INTERNAL and 5 with NOT_FOUND (a client error, as a 404 would be).
    for (let i = 0; i < 20; i++) {
      expect((await say(client, { failWith: 13 }, { ...md, 'x-canary': 'always' })).code).toBe(13);
    }
    for (let i = 0; i < 5; i++) {
      expect((await say(client, { failWith: 5 }, { ...md, 'x-canary': 'always' })).code).toBe(5);
    }

    // What canary analysis reads: the gateway's stats window per version.
    const source = new GatewayMetricSource(gw.url, ADMIN_TOKEN);
    const canaryMetrics = await source.query('echo', 'v2', 60_000);
    const stableMetrics = await source.query('echo', 'v1', 60_000);
    expect(canaryMetrics.requests).toBe((versions.v2 ?? 0) + 10 + 25);
    expect(canaryMetrics.errors).toBe(20);
    expect(stableMetrics.errors).toBe(0);

    // And the RED series the Prometheus source reads: INTERNAL as 500, NOT_FOUND as 404.
    const metrics = await (
      await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
    expect(metrics).toMatch(/gateway_requests_total\{[^}]*service="echo",version="v2",code="500"[^}]*\} 20/);
    expect(metrics).toMatch(/gateway_requests_total\{[^}]*service="echo",version="v2",code="404"[^}]*\} 5/);
    expect(metrics).toMatch(/gateway_upstream_retries_total\{[^}]*service="echo"[^}]*\} [1-9]/);
  });
});

describe('the protos gateway reflection serves', () => {
  it('takes each proto name once when releases carry the protos of the services they call', () => {
    const root = mkdtempSync(join(tmpdir(), 'gw-protos-'));
    try {
      const [own, caller, empty] = ['echo', 'caller', 'empty'].map((d) => join(root, d, 'proto'));
      for (const dir of [own, caller, empty]) mkdirSync(dir as string, { recursive: true });
      copyFileSync(join(PROTO_DIR, 'echo.proto'), join(own as string, 'echo.proto'));
      copyFileSync(join(PROTO_DIR, 'echo.proto'), join(caller as string, 'echo.proto'));
      expect(protoFiles([own as string, caller as string, empty as string, join(root, 'missing')])).toEqual([
        join(own as string, 'echo.proto'),
      ]);
      // By default every runtime service's own protos.
      expect(protoFiles().map((f) => f.split('/').slice(-3).join('/'))).toContain(
        'analytics/proto/analytics.proto',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('gRPC on a clustered gateway (GATEWAY_WORKERS=2)', () => {
  it('serves calls on connections any worker accepted', async () => {
    const upstream = await echoGrpcUpstream('echo-1', 'v1');
    const gw = await spawnGateway(
      {
        routes: [{ prefix: '/echo', service: 'echo', auth: 'none' }],
        services: { echo: { instances: [{ id: 'echo-1', url: upstream.url, version: 'v1' }] } },
      },
      { GATEWAY_WORKERS: '2', ACCESS_LOG: 'false' },
    );
    try {
      // A connection each, so the primary hands them to both workers.
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const r = await rawCall(gw.address, '/platform.echo.v1.Echo/Say', {}, sayFrame(`c${i}`));
          return r.grpcStatus;
        }),
      );
      expect(outcomes).toEqual(Array.from({ length: 20 }, () => '0'));
      expect(upstream.calls).toBe(20);
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});

describe('gRPC and the gateway shutting down', () => {
  it('lets a call in flight finish on SIGTERM (trailers and access line included), then exits 0', async () => {
    const upstream = await echoGrpcUpstream('echo-1', 'v1');
    const gw = await spawnGateway(
      {
        routes: [{ prefix: '/echo', service: 'echo', auth: 'none' }],
        services: { echo: { instances: [{ id: 'echo-1', url: upstream.url, version: 'v1' }] } },
      },
      { ACCESS_LOG: 'true' },
    );
    try {
      const slow = rawCall(gw.address, '/platform.echo.v1.Echo/Say', {}, sayFrame('slow', 1500));
      // Sent once the upstream has it.
      while (upstream.calls === 0) await new Promise((r) => setTimeout(r, 20));
      const exitCode = gw.stop();
      expect(await slow).toMatchObject({ status: 200, grpcStatus: '0' });
      expect(await exitCode).toBe(0);
      expect(gw.stdout()).toMatch(
        /"msg":"request".*"method":"GRPC","path":"\/platform\.echo\.v1\.Echo\/Say","status":200/,
      );
    } finally {
      await gw.stop();
      await upstream.close();
    }
  });
});
