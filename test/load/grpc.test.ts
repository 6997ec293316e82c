/**
 * `load run` driving gRPC (k6/net/grpc's unary invoke): calls encoded with the scenario's protos go
 * through the gateway process to a @grpc/grpc-js upstream; non-OK statuses are failed requests in
 * the summary and the thresholds, replies feed the checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchSigner, serveJwks } from '../../bench/bench-token.ts';
import {
  echoGrpcUpstream,
  type GatewayProcess,
  type GrpcUpstream,
  PROTO_DIR,
  spawnGateway,
} from '../../runtime/gateway/test/grpc-helpers.ts';
import { ConfigError, UsageError } from '../../src/core/errors.ts';
import { runLoad } from '../../src/load/run.ts';
import { loadScenario } from '../../src/load/scenario.ts';
import { buildSummary } from '../../src/load/summary.ts';

const dir = mkdtempSync(join(tmpdir(), 'load-grpc-'));
function scenario(name: string, yaml: string) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  return loadScenario(file);
}
function problemsOf(yaml: string) {
  try {
    scenario('bad', yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the scenario to be rejected');
}

const PROTOS = `grpc: { protos: [${join(PROTO_DIR, 'echo.proto')}] }\n`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gRPC requests in a scenario', () => {
  it('are a POST of the method path, with message and metadata', () => {
    const s = scenario(
      'ok',
      `${PROTOS}requests:
  - name: say
    grpc:
      method: platform.echo.v1.Echo/Say
      message: { text: "{{vu}}" }
      metadata: { x-canary: always }
`,
    );
    expect(s.requests[0]).toMatchObject({
      method: 'POST',
      path: '/platform.echo.v1.Echo/Say',
      grpc: {
        method: 'platform.echo.v1.Echo/Say',
        message: { text: '{{vu}}' },
        metadata: { 'x-canary': 'always' },
      },
    });
    expect(s.grpc?.protos).toEqual([join(PROTO_DIR, 'echo.proto')]);
  });

  it('are rejected without protos, with a body, an expect, an HTTP method or a malformed method name', () => {
    const missing = problemsOf('requests: [{ name: a, grpc: { method: p.S/M } }]\n');
    expect(missing[0]?.message).toContain('needs the protos');
    const mixed = problemsOf(
      `${PROTOS}requests:\n  - { name: a, method: GET, body: {}, expect: [200], grpc: { method: p.S/M } }\n`,
    );
    expect(mixed.map((p) => p.message)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('sends grpc.message, not a body'),
        expect.stringContaining('succeeds with status OK only'),
        expect.stringContaining('no method or path of its own'),
      ]),
    );
    const malformed = problemsOf(`${PROTOS}requests: [{ name: a, grpc: { method: Say } }]\n`);
    expect(malformed[0]?.message).toContain('package.Service/Method');
  });
});

describe('load run against the gateway over gRPC', () => {
  let jwks: { url: string; close: () => void };
  let token: string;
  let upstream: GrpcUpstream;
  let gw: GatewayProcess;

  beforeAll(async () => {
    const signer = await benchSigner('load-grpc');
    jwks = await serveJwks(signer.jwks);
    token = await signer.token('load-user', {});
    upstream = await echoGrpcUpstream('echo-1', 'v1');
    gw = await spawnGateway(
      {
        routes: [{ prefix: '/echo', service: 'echo' }],
        services: { echo: { instances: [{ id: 'echo-1', url: upstream.url, version: 'v1' }] } },
      },
      { AUTH_JWKS_URL: jwks.url, ACCESS_LOG: 'false' },
    );
  });

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
    jwks?.close();
  });

  it('counts non-OK statuses as failed requests, checks replies and judges thresholds on them', async () => {
    const s = scenario(
      'mixed',
      `${PROTOS}defaults:
  headers: { authorization: "Bearer {{env TOKEN}}", content-type: application/json }
executor: { type: constant-arrival-rate, rate: 40, duration: 2s }
validity: { maxAvgScheduleLag: 5s, maxDroppedRatio: 0.5 }
requests:
  - name: say
    weight: 3
    grpc:
      method: platform.echo.v1.Echo/Say
      message: { text: "iteration {{iter}}" }
    checks:
      - jsonPath: userId
        equals: load-user
      - bodyContains: iteration
  - name: failing
    weight: 1
    grpc:
      method: platform.echo.v1.Echo/Say
      message: { text: x, failWith: 14 }
thresholds:
  http_req_failed: ['rate<0.01']
  http_req_failed{name:say}: ['rate<0.01']
  checks: ['rate>0.99']
`,
    );
    const result = await runLoad(s, { target: gw.url, env: { TOKEN: token } });
    const summary = buildSummary(result);
    const statuses = result.aggregate.statuses;
    const ok = statuses.get('grpc OK') ?? 0;
    const unavailable = statuses.get('grpc UNAVAILABLE') ?? 0;
    expect(ok).toBeGreaterThan(0);
    expect(unavailable).toBeGreaterThan(0);
    expect(ok + unavailable).toBe(80);
    expect(upstream.calls).toBeGreaterThanOrEqual(80);
    const failed = result.thresholds.find((t) => t.metric === 'http_req_failed');
    expect(failed).toMatchObject({ ok: false });
    expect(result.thresholds.find((t) => t.metric === 'http_req_failed{name:say}')).toMatchObject({
      ok: true,
    });
    expect(result.thresholds.find((t) => t.metric === 'checks')).toMatchObject({ ok: true });
    expect(JSON.stringify(summary)).toContain('grpc UNAVAILABLE');
  });

  it('refuses a method the protos do not define before sending anything', async () => {
    const s = scenario(
      'unknown',
      `${PROTOS}executor: { type: constant-arrival-rate, rate: 1, duration: 1s }
requests: [{ name: a, grpc: { method: platform.echo.v1.Echo/Shout } }]
`,
    );
    const before = upstream.calls;
    await expect(runLoad(s, { target: gw.url })).rejects.toThrow(UsageError);
    await expect(runLoad(s, { target: gw.url })).rejects.toThrow(
      /define no gRPC method platform.echo.v1.Echo\/Shout/,
    );
    expect(upstream.calls).toBe(before);
  });
});
