/**
 * Service-to-service gRPC, the counterpart of http-client.ts: unary calls to one upstream service
 * over a @grpc/grpc-js channel, each with
 * - a deadline for the whole call, retries included (gRPC's meaning of a deadline);
 * - retries of UNAVAILABLE (nothing was served: connection refused or reset, the instance
 *   draining) for calls the caller marks idempotent, with jittered exponential backoff, at most
 *   `maxAttempts`, and only while the upstream's retry budget (retry-budget.ts, the same
 *   ratio-of-recent-calls budget the gateway keeps) allows, so an outage is not met with a storm;
 * - the current request's `x-request-id` and a child W3C `traceparent` in the metadata, and one
 *   client span per attempt (a trace shows every retry).
 *
 * Retries are ours rather than grpc-js's `retryPolicy`/`retryThrottling` service config so that
 * each attempt gets its own span and the budget means the same thing as at the gateway.
 *
 * The address is the upstream's URL (`AUTH_URL`): every service serves gRPC on its one port.
 */
import * as grpc from '@grpc/grpc-js';
import { GrpcCallError, GrpcCode, httpStatusOfGrpc } from './grpc-status.ts';
import { currentRequest } from './request-context.ts';
import { RetryBudget } from './retry-budget.ts';
import { propagationOnly, type Tracing } from './tracing.ts';

export interface GrpcClientOptions {
  /** The upstream's URL, e.g. `AUTH_URL` (`http://127.0.0.1:4001`); `https:` uses TLS. */
  url: string;
  /** The service's package definition (loadProtos) and its full name, e.g. `platform.auth.v1.Auth`. */
  definition: grpc.GrpcObject | Record<string, unknown>;
  service: string;
  tracing?: Tracing;
  /** Deadline of a call, retries included. Default 1 s. */
  deadlineMs?: number;
  /** Attempts per idempotent call, the first included. Default 3. */
  maxAttempts?: number;
  /** First retry's backoff before jitter; doubles per retry. Default 25 ms. */
  backoffMs?: number;
  /** Retries as a share of recent calls, with a floor per 10 s window. Default 0.2 and 10 (as the gateway). */
  retryBudget?: { ratio: number; minPerWindow: number };
}

export interface GrpcCallOptions {
  /** Extra request metadata (e.g. `authorization`). */
  metadata?: Record<string, string>;
  /** Safe to send again after UNAVAILABLE. Default false: one attempt. */
  idempotent?: boolean;
  /** Overrides the client's deadline for this call. */
  deadlineMs?: number;
}

export interface GrpcClient {
  /** Calls a unary method by its name in the proto (`GetPrincipal`); rejects with GrpcCallError (grpc-status.ts). */
  unary<Res>(method: string, request: object, options?: GrpcCallOptions): Promise<Res>;
  /** The retry budget's recent calls, retries and allowance (for metrics and tests). */
  retryBudget(): { requests: number; retries: number; allowed: number };
  close(): void;
}

/** `host:port` for grpc-js from a service URL, and whether it is TLS. */
export function grpcTarget(url: string): { target: string; secure: boolean } {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const port = u.port || (secure ? '443' : '80');
  return { target: `${u.hostname}:${port}`, secure };
}

type UnaryMethod = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

function lookup(definition: GrpcClientOptions['definition'], name: string): grpc.ServiceClientConstructor {
  let node: unknown = definition;
  for (const part of name.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  if (typeof node !== 'function') throw new Error(`gRPC service ${name} is not in the definition`);
  return node as grpc.ServiceClientConstructor;
}

/** Creates a client for one upstream gRPC service (one channel, reused by every call). */
export function createGrpcClient(options: GrpcClientOptions): GrpcClient {
  const Ctor = lookup(options.definition, options.service);
  const { target, secure } = grpcTarget(options.url);
  const client = new Ctor(target, secure ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(), {
    // After an outage the channel reconnects within a second or two, not grpc-js's default of up
    // to two minutes of backoff, so callers stop degrading soon after the upstream is back.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 2000,
  });
  const tracing = options.tracing ?? propagationOnly;
  const deadlineMs = options.deadlineMs ?? 1000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const backoffMs = options.backoffMs ?? 25;
  const budget = new RetryBudget(options.retryBudget ?? { ratio: 0.2, minPerWindow: 10 });

  function attempt(
    call: UnaryMethod,
    request: object,
    metadata: grpc.Metadata,
    deadline: number,
  ): Promise<{ response?: unknown; error?: grpc.ServiceError }> {
    return new Promise((resolve) => {
      call.call(client, request, metadata, { deadline }, (error, response) =>
        resolve(error ? { error } : { response }),
      );
    });
  }

  return {
    async unary<Res>(method: string, request: object, call: GrpcCallOptions = {}): Promise<Res> {
      const path = `${options.service}/${method}`;
      const fn = (client as unknown as Record<string, UnaryMethod | undefined>)[method];
      if (typeof fn !== 'function') throw new Error(`${options.service} has no method ${method}`);
      const deadline = Date.now() + (call.deadlineMs ?? deadlineMs);
      const ctx = currentRequest();
      const attempts = call.idempotent ? maxAttempts : 1;
      budget.recordRequest();
      for (let n = 1; ; n++) {
        const span = tracing.startClientSpan(path, ctx?.traceparent, {
          'rpc.system': 'grpc',
          'rpc.service': options.service,
          'rpc.method': method,
          'server.address': target,
          'rpc.attempt': n,
        });
        const metadata = new grpc.Metadata();
        for (const [k, v] of Object.entries(call.metadata ?? {})) metadata.set(k, v);
        if (ctx) metadata.set('x-request-id', ctx.reqId);
        metadata.set('traceparent', span.traceparent);
        const { response, error } = await attempt(fn, request, metadata, deadline);
        const code = error ? error.code : GrpcCode.OK;
        span.setAttribute('rpc.grpc.status_code', code);
        span.end(httpStatusOfGrpc(code) >= 500 ? (error?.details ?? true) : false);
        if (!error) return response as Res;
        const pause = backoffMs * 2 ** (n - 1) * (0.5 + Math.random());
        const retry =
          code === GrpcCode.UNAVAILABLE && n < attempts && Date.now() + pause < deadline && budget.tryRetry();
        if (!retry) throw new GrpcCallError(path, code, error.details, n);
        await new Promise((r) => setTimeout(r, pause));
      }
    },
    retryBudget: () => budget.snapshot(),
    close: () => client.close(),
  };
}
