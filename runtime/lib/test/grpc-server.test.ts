import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  callClientStream,
  callUnary,
  grpcClient,
  reflectionFieldNames,
  reflectionServices,
} from '../../../test/helpers/grpc.ts';
import { traceFile } from '../../contract/state-paths.ts';
import type { GrpcContext } from '../grpc-server.ts';
import { GrpcCode } from '../grpc-status.ts';
import { badRequest, HttpError } from '../http-errors.ts';
import { currentRequest } from '../request-context.ts';
import { createService, type RunningService, type ServiceDefinition } from '../server.ts';
import { spawnService } from './fixtures/spawn-service.ts';

const PROTO = join(import.meta.dirname, 'fixtures', 'kit-echo.proto');
const SERVICE = 'platform.kittest.v1.Echo';

interface SayRequest {
  name?: string;
  times?: number;
  padding?: Buffer;
}

function echo(ctx: GrpcContext, text: string) {
  const user = ctx.headers['x-user-id'];
  return {
    text,
    requestId: currentRequest()?.reqId,
    userId: typeof user === 'string' ? user : '',
    traceId: ctx.traceId,
  };
}

/** Request ids of Wait calls whose handler saw the abort signal. */
const aborted: string[] = [];

/** A kit service with one route and the Echo gRPC service; `release` lets Slow calls answer. */
function kitService(release: Promise<void>): ServiceDefinition {
  return {
    name: 'kit-grpc',
    bodyLimit: 4096,
    routes(app) {
      app.get('/hello', async () => ({ hello: 'rest' }));
    },
    grpc: () => [
      {
        proto: PROTO,
        service: SERVICE,
        handlers: {
          Say: async (request: SayRequest, ctx: GrpcContext) => {
            const name = z
              .string()
              .max(20)
              .parse(request.name ?? '');
            if (name === '') throw badRequest('name is required');
            if (name === 'limit') throw new HttpError(429, 'TOO_MANY', 'slow down', { retryAfterS: 7 });
            if (name === 'boom') throw new Error('secret internal detail');
            return echo(ctx, `hello ${name}`);
          },
          Slow: async (request: SayRequest, ctx: GrpcContext) => {
            await release;
            return echo(ctx, `slow ${request.name}`);
          },
          Wait: (_request: SayRequest, ctx: GrpcContext) =>
            new Promise((_resolve, reject) => {
              ctx.signal.addEventListener('abort', () => {
                aborted.push(ctx.reqId);
                reject(new Error('the handler saw the abort'));
              });
            }),
          Collect: async (requests: AsyncIterable<SayRequest>, ctx: GrpcContext) => {
            const names: string[] = [];
            for await (const r of requests) names.push(r.name ?? '');
            return echo(ctx, names.join(','));
          },
          Repeat: async function* (request: SayRequest, ctx: GrpcContext) {
            for (let i = 0; i < (request.times ?? 0); i++) yield echo(ctx, `${request.name} ${i}`);
          },
        },
      },
    ],
  };
}

let dir: string;
let service: RunningService;
let address: string;
let base: string;
let client: grpc.Client;
const lines: Record<string, unknown>[] = [];

function logTo(out: Record<string, unknown>[]): Writable {
  return new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) out.push(JSON.parse(l));
      cb();
    },
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lib-grpc-'));
  service = await createService(kitService(Promise.resolve()), {
    env: { PORT: '0', DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'debug' },
    logDestination: logTo(lines),
  });
  const { port, url } = await service.listen();
  base = url;
  address = `127.0.0.1:${port}`;
  client = grpcClient(address, PROTO, SERVICE);
});
afterAll(async () => {
  client?.close();
  await service?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gRPC beside REST on one port', () => {
  it('serves an HTTP/1.1 route and a gRPC method on the same port', async () => {
    expect(await (await fetch(`${base}/hello`)).json()).toEqual({ hello: 'rest' });
    const { response, error } = await callUnary(client, 'Say', { name: 'grpc' });
    expect(error).toBeUndefined();
    expect(response).toMatchObject({ text: 'hello grpc' });
    expect(service.grpcMethods).toContain(`/${SERVICE}/Say`);
  });

  it('takes the request id, caller and trace from metadata, answers the id in response metadata', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { response, headers } = await callUnary(
      client,
      'Say',
      { name: 'ids' },
      {
        'x-request-id': 'req-grpc-1',
        'x-user-id': 'user-7',
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
    );
    expect(response).toEqual({ text: 'hello ids', requestId: 'req-grpc-1', userId: 'user-7', traceId });
    expect(headers?.get('x-request-id')).toEqual(['req-grpc-1']);
    const line = lines.find((l) => l.reqId === 'req-grpc-1' && l.msg === 'request');
    expect(line).toMatchObject({
      method: 'POST',
      route: `/${SERVICE}/Say`,
      status: 200,
      grpcStatus: 0,
      traceId,
    });
  });

  it('makes a new request id when the metadata has none (or a malformed one)', async () => {
    const { response, headers } = await callUnary(
      client,
      'Say',
      { name: 'anon' },
      { 'x-request-id': 'bad id!' },
    );
    expect(response?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(headers?.get('x-request-id')).toEqual([response?.requestId]);
  });

  it('answers bad input with INVALID_ARGUMENT and the error code in the trailers', async () => {
    const empty = await callUnary(client, 'Say', {});
    expect(empty.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(empty.error?.details).toBe('name is required');
    expect(empty.error?.metadata.get('x-error-code')).toEqual(['BAD_REQUEST']);
    const tooLong = await callUnary(client, 'Say', { name: 'x'.repeat(21) });
    expect(tooLong.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(tooLong.error?.metadata.get('x-error-code')).toEqual(['INVALID_INPUT']);
  });

  it('answers a limit with RESOURCE_EXHAUSTED and Retry-After, a crash with INTERNAL that hides its cause', async () => {
    const limited = await callUnary(client, 'Say', { name: 'limit' });
    expect(limited.error?.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(limited.error?.metadata.get('retry-after')).toEqual(['7']);
    const boom = await callUnary(client, 'Say', { name: 'boom' }, { 'x-request-id': 'req-boom' });
    expect(boom.error?.code).toBe(GrpcCode.INTERNAL);
    expect(boom.error?.details).toBe('internal error');
    const failed = lines.find((l) => l.reqId === 'req-boom' && l.msg === 'request failed');
    expect(failed).toMatchObject({ status: 500, grpcStatus: GrpcCode.INTERNAL });
    expect(String(failed?.error)).toContain('secret internal detail');
  });

  it('refuses a message larger than the body limit with RESOURCE_EXHAUSTED', async () => {
    const { error } = await callUnary(client, 'Say', { name: 'big', padding: Buffer.alloc(5000) });
    expect(error?.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
  });

  it('counts calls in the RED metrics under the HTTP status of their gRPC status', async () => {
    await callUnary(client, 'Say', { name: 'metrics' });
    await callUnary(client, 'Say', {});
    const text = await (await fetch(`${base}/metrics`)).text();
    const route = `route="/${SERVICE}/Say"`;
    expect(text).toMatch(new RegExp(`http_requests_total\\{[^}]*method="POST"[^}]*${route}[^}]*code="200"`));
    expect(text).toMatch(new RegExp(`http_requests_total\\{[^}]*${route}[^}]*code="400"`));
    expect(text).toMatch(new RegExp(`http_requests_total\\{[^}]*${route}[^}]*code="429"`));
    expect(text).toMatch(new RegExp(`http_requests_total\\{[^}]*${route}[^}]*code="500"`));
  });

  it('aborts the handler of a call past its deadline or cancelled, and counts what the client saw', async () => {
    const late = await callUnary(
      client,
      'Wait',
      {},
      { 'x-request-id': 'req-deadline' },
      { deadline: Date.now() + 300 },
    );
    expect(late.error?.code).toBe(GrpcCode.DEADLINE_EXCEEDED);
    const call = (
      client as unknown as { Wait(r: SayRequest, md: grpc.Metadata, cb: () => void): grpc.ClientUnaryCall }
    ).Wait({}, new grpc.Metadata(), () => {});
    setTimeout(() => call.cancel(), 200);
    // The cancel reaches the server when it does (a loaded machine takes longer): wait for it.
    await vi.waitFor(() => expect(aborted).toHaveLength(2), { timeout: 10_000, interval: 50 });
    expect(aborted).toContain('req-deadline');
    const route = `route="/${SERVICE}/Wait"`;
    await vi.waitFor(
      async () => {
        const text = await (await fetch(`${base}/metrics`)).text();
        expect(text).toMatch(
          new RegExp(`http_requests_total\\{[^}]*${route}[^}]*code="504"[^}]*\\} 1$`, 'm'),
        );
        expect(text).toMatch(
          new RegExp(`http_requests_total\\{[^}]*${route}[^}]*code="499"[^}]*\\} 1$`, 'm'),
        );
      },
      { timeout: 10_000, interval: 50 },
    );
    // Too slow is logged like any 5xx, with the reason; a client leaving is no error of the service.
    const errors = lines.filter((l) => l.route === `/${SERVICE}/Wait` && l.level === 'error');
    expect(errors).toEqual([
      expect.objectContaining({
        reqId: 'req-deadline',
        status: 504,
        error: expect.stringMatching(/^DEADLINE_EXCEEDED/),
      }),
    ]);
  });

  it('serves client-streaming and server-streaming methods', async () => {
    const collected = await callClientStream(client, 'Collect', [
      { name: 'a' },
      { name: 'b' },
      { name: 'c' },
    ]);
    expect(collected.response?.text).toBe('a,b,c');
    const replies: string[] = [];
    const stream = (
      client as unknown as { Repeat(r: SayRequest): grpc.ClientReadableStream<{ text: string }> }
    ).Repeat({ name: 'r', times: 3 });
    for await (const r of stream) replies.push(r.text);
    expect(replies).toEqual(['r 0', 'r 1', 'r 2']);
  });

  it('serves reflection v1 and v1alpha outside production', async () => {
    for (const version of ['v1', 'v1alpha'] as const) {
      const { services } = await reflectionServices(address, version);
      expect(services).toContain(SERVICE);
    }
  });

  it('reflection describes the fields as the .proto writes them (snake_case), not as handlers see them', async () => {
    for (const version of ['v1', 'v1alpha'] as const) {
      const messages = await reflectionFieldNames(address, version, 'platform.kittest.v1.SayReply');
      // Names as written; JSON names as protoc computes them (what grpcurl prints and REST uses).
      expect(messages.SayReply).toEqual([
        'text/text',
        'request_id/requestId',
        'user_id/userId',
        'trace_id/traceId',
      ]);
    }
  });
});

describe('gRPC and the service lifecycle', () => {
  it('serves no reflection in production', async () => {
    const prod = await createService(kitService(Promise.resolve()), {
      env: { PORT: '0', DATA_DIR: join(dir, 'prod'), LOG_LEVEL: 'silent', NODE_ENV: 'production' },
    });
    const { port } = await prod.listen();
    try {
      const { error, services } = await reflectionServices(`127.0.0.1:${port}`, 'v1');
      expect(services).toBeUndefined();
      expect(error?.code).toBe(GrpcCode.UNIMPLEMENTED);
    } finally {
      await prod.close();
    }
  });

  it("records a server span per call under the caller's trace, with the gRPC status", async () => {
    const tracesDir = join(dir, 'traces');
    const traced = await createService(kitService(Promise.resolve()), {
      env: { PORT: '0', DATA_DIR: join(dir, 'traced'), LOG_LEVEL: 'silent', TRACES_DIR: tracesDir },
    });
    const { port } = await traced.listen();
    const c = grpcClient(`127.0.0.1:${port}`, PROTO, SERVICE);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    await callUnary(c, 'Say', { name: 'traced' }, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    await callUnary(c, 'Say', {}, { traceparent: `00-${traceId}-b7ad6b7169203331-01` });
    c.close();
    await traced.close(); // flushes the spans
    const spans = readFileSync(traceFile(tracesDir, 'kit-grpc'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const calls = spans.filter((sp) => sp.name === `${SERVICE}/Say`);
    expect(calls).toHaveLength(2);
    for (const sp of calls) {
      expect(sp).toMatchObject({ traceId, parentSpanId: 'b7ad6b7169203331', kind: 'server', status: 'ok' });
    }
    expect(
      calls.map((sp) => (sp.attributes as Record<string, unknown>)['rpc.grpc.status_code']).sort(),
    ).toEqual([GrpcCode.OK, GrpcCode.INVALID_ARGUMENT]);
    expect(calls[0]?.attributes).toMatchObject({
      'rpc.system': 'grpc',
      'rpc.service': SERVICE,
      'rpc.method': 'Say',
    });
  });

  it('drains an in-flight call on close and refuses calls that arrive while closing', async () => {
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const drained = await createService(kitService(released), {
      env: { PORT: '0', DATA_DIR: join(dir, 'drain'), LOG_LEVEL: 'silent' },
    });
    const { port } = await drained.listen();
    const c = grpcClient(`127.0.0.1:${port}`, PROTO, SERVICE);
    const slow = callUnary(c, 'Slow', { name: 'in-flight' });
    // The call is in its handler once a second call on the same connection has been answered.
    expect((await callUnary(c, 'Say', { name: 'ready' })).response?.text).toBe('hello ready');
    let closed = false;
    const closing = drained.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(false);
    release();
    const outcome = await slow;
    expect(outcome.error).toBeUndefined();
    expect(outcome.response?.text).toBe('slow in-flight');
    await closing;
    const after = await callUnary(c, 'Say', { name: 'late' }, {}, { deadline: Date.now() + 2000 });
    expect(after.error?.code).toBe(GrpcCode.UNAVAILABLE);
    c.close();
  });
});

describe('gRPC on SIGTERM (runService)', () => {
  it('finishes an in-flight call, force-closes a call that never ends at the deadline, exits 0', async () => {
    const { proc, port, output, exited } = await spawnService('grpc-slow-service.ts', {
      DATA_DIR: join(dir, 'sigterm'),
      LOG_LEVEL: 'info',
    });
    expect(port).toBeTypeOf('number');
    const c = grpcClient(`127.0.0.1:${port}`, PROTO, SERVICE);
    try {
      // One answered call first: the connection is up, so the next two are sent at once.
      expect((await callUnary(c, 'Say', {})).response?.text).toBe('hello');
      const stuck = callUnary(c, 'Wait', {});
      const slow = callUnary(c, 'Slow', {});
      await new Promise((r) => setTimeout(r, 150));
      proc.kill('SIGTERM');
      const done = await slow;
      expect(done.error).toBeUndefined();
      expect(done.response?.text).toBe('slow done');
      // Only the 8 s force-close ends the stuck call; the process still stops cleanly.
      expect((await stuck).error).toBeDefined();
      expect(await exited).toBe(0);
      expect(output()).toContain('drain took too long');
    } finally {
      c.close();
      proc.kill('SIGKILL');
    }
  });
});
