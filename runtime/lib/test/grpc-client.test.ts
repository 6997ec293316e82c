/**
 * The service-to-service gRPC client against a real @grpc/grpc-js server on 127.0.0.1: what it
 * puts in the metadata, its deadline, which failures it retries and how the retry budget bounds
 * them, and a server that is not there at all.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/core/ports.ts';
import { createGrpcClient, grpcTarget } from '../grpc-client.ts';
import { loadProtos } from '../grpc-server.ts';
import { GrpcCallError, GrpcCode } from '../grpc-status.ts';
import { createLogger } from '../logger.ts';
import { requestContext } from '../request-context.ts';

const definition = grpc.loadPackageDefinition(
  loadProtos([join(import.meta.dirname, 'fixtures', 'client-probe.proto')]),
);
const SERVICE = 'platform.clienttest.v1.Probe';
const serviceDef = (definition.platform as grpc.GrpcObject).clienttest as grpc.GrpcObject;
const Probe = (serviceDef.v1 as grpc.GrpcObject).Probe as grpc.ServiceClientConstructor;

interface Reply {
  requestId?: string;
  traceparent?: string;
  authorization?: string;
}

/** Attempts seen per name; `fail:N` answers UNAVAILABLE to the first N attempts, `hang` never answers. */
const seen = new Map<string, number>();
let server: grpc.Server;
let url: string;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(Probe.service, {
    Ping(call: grpc.ServerUnaryCall<{ name?: string }, Reply>, callback: grpc.sendUnaryData<Reply>) {
      const name = call.request.name ?? '';
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      const failures = /^fail:(\d+)/.exec(name);
      if (name === 'hang') return;
      if (failures && n <= Number(failures[1]))
        return callback({ code: grpc.status.UNAVAILABLE, details: `attempt ${n} refused` });
      if (name === 'denied') return callback({ code: grpc.status.UNAUTHENTICATED, details: 'no' });
      const meta = (key: string) => String(call.metadata.get(key)[0] ?? '');
      callback(null, {
        requestId: meta('x-request-id'),
        traceparent: meta('traceparent'),
        authorization: meta('authorization'),
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  url = `http://127.0.0.1:${port}`;
});

afterAll(() => server.forceShutdown());

const log = createLogger({ service: 'grpc-client-test', version: 'test', instance: 'test', level: 'silent' });

describe('grpcTarget', () => {
  it('turns a service URL into a grpc-js target', () => {
    expect(grpcTarget('http://127.0.0.1:4001')).toEqual({ target: '127.0.0.1:4001', secure: false });
    expect(grpcTarget('https://auth.internal/')).toEqual({ target: 'auth.internal:443', secure: true });
    expect(grpcTarget('http://auth')).toEqual({ target: 'auth:80', secure: false });
  });
});

describe('createGrpcClient', () => {
  it("sends the current request's id, a child traceparent of its trace, and the caller's metadata", async () => {
    const client = createGrpcClient({ url, definition, service: SERVICE });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const reply = await requestContext.run(
      { reqId: 'req-123', traceId, traceparent: `00-${traceId}-00f067aa0ba902b7-01`, log },
      () => client.unary<Reply>('Ping', { name: 'meta' }, { metadata: { authorization: 'Bearer t0k3n' } }),
    );
    client.close();
    expect(reply.requestId).toBe('req-123');
    expect(reply.authorization).toBe('Bearer t0k3n');
    const [, trace, span] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(reply.traceparent ?? '') ?? [];
    expect(trace).toBe(traceId);
    // A span of its own, child of the request's.
    expect(span).not.toBe('00f067aa0ba902b7');
  });

  it('gives up at the deadline with DEADLINE_EXCEEDED, without retrying', async () => {
    const client = createGrpcClient({ url, definition, service: SERVICE, deadlineMs: 200 });
    const err = await client.unary('Ping', { name: 'hang' }, { idempotent: true }).catch((e: unknown) => e);
    client.close();
    expect(err).toBeInstanceOf(GrpcCallError);
    expect((err as GrpcCallError).code).toBe(GrpcCode.DEADLINE_EXCEEDED);
    expect((err as GrpcCallError).attempts).toBe(1);
    expect(seen.get('hang')).toBe(1);
  });

  it('retries UNAVAILABLE for idempotent calls only, up to maxAttempts', async () => {
    const client = createGrpcClient({ url, definition, service: SERVICE, maxAttempts: 3, backoffMs: 1 });
    await expect(client.unary('Ping', { name: 'fail:2:a' }, { idempotent: true })).resolves.toBeDefined();
    expect(seen.get('fail:2:a')).toBe(3);

    const once = await client.unary('Ping', { name: 'fail:1:b' }).catch((e: unknown) => e);
    expect((once as GrpcCallError).code).toBe(GrpcCode.UNAVAILABLE);
    expect(seen.get('fail:1:b')).toBe(1);

    const spent = await client
      .unary('Ping', { name: 'fail:9:c' }, { idempotent: true })
      .catch((e: unknown) => e);
    expect((spent as GrpcCallError).attempts).toBe(3);
    expect(seen.get('fail:9:c')).toBe(3);
    client.close();
  });

  it('refuses a method the service does not have, before sending anything', async () => {
    const client = createGrpcClient({ url, definition, service: SERVICE });
    await expect(client.unary('Pong', {})).rejects.toThrow(`${SERVICE} has no method Pong`);
    expect(client.retryBudget().requests).toBe(0);
    client.close();
  });

  it('does not retry an answer: UNAUTHENTICATED is final', async () => {
    const client = createGrpcClient({ url, definition, service: SERVICE, backoffMs: 1 });
    const err = await client.unary('Ping', { name: 'denied' }, { idempotent: true }).catch((e: unknown) => e);
    client.close();
    expect((err as GrpcCallError).code).toBe(GrpcCode.UNAUTHENTICATED);
    expect(seen.get('denied')).toBe(1);
  });

  it('stops retrying when the retry budget is spent', async () => {
    // A floor of 4 retries per window and no share of calls: 10 failing calls get 4 retries in all.
    const client = createGrpcClient({
      url,
      definition,
      service: SERVICE,
      maxAttempts: 5,
      backoffMs: 1,
      retryBudget: { ratio: 0, minPerWindow: 4 },
    });
    for (let i = 0; i < 10; i++)
      await client.unary('Ping', { name: `fail:9:budget${i}` }, { idempotent: true }).catch(() => {});
    let attempts = 0;
    for (let i = 0; i < 10; i++) attempts += seen.get(`fail:9:budget${i}`) ?? 0;
    expect(attempts).toBe(10 + 4);
    expect(client.retryBudget()).toMatchObject({ requests: 10, retries: 4 });
    client.close();
  });

  it('answers UNAVAILABLE quickly when nothing listens, after bounded retries', async () => {
    const client = createGrpcClient({
      url: `http://127.0.0.1:${await freePort()}`,
      definition,
      service: SERVICE,
      maxAttempts: 2,
      backoffMs: 1,
      deadlineMs: 5000,
    });
    const err = await client.unary('Ping', { name: 'x' }, { idempotent: true }).catch((e: unknown) => e);
    client.close();
    expect((err as GrpcCallError).code).toBe(GrpcCode.UNAVAILABLE);
    expect((err as GrpcCallError).attempts).toBe(2);
  });
});
