/**
 * The gRPC side of a service: a @grpc/grpc-js `Server` that never binds a port of its own. The
 * service's HTTP server hands it every connection that opens with the HTTP/2 preface (see
 * protocol-split.ts) through `createConnectionInjector`, so REST and gRPC share one PORT.
 *
 * Every call gets what a REST request gets from server.ts: a request id (`x-request-id` metadata
 * or a new one, sent back in the response metadata), the caller's `traceparent` continued in a
 * server span, one log line, and the RED metrics under `POST /<package>.<Service>/<Method>` with
 * the HTTP status its gRPC status maps to (grpc-status.ts). Handlers are plain async functions;
 * what they throw is answered like a REST error: an HttpError's status becomes the matching gRPC
 * code, its machine code, Retry-After and details travel as trailing metadata.
 *
 * Protos are loaded at run time with @grpc/proto-loader (no generated code); services type their
 * handlers by hand next to the proto. Reflection (v1 and v1alpha, @grpc/reflection) is served when
 * the service's config asks for it (not in production unless GRPC_REFLECTION=true).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { GrpcCode, grpcCodeOfHttp, httpStatusOfGrpc } from './grpc-status.ts';
import { HttpError } from './http-errors.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';
import { retryAfterFor } from './problem.ts';
import { reflectionDefinition } from './reflection-descriptors.ts';
import { type RequestContext, requestContext } from './request-context.ts';
import type { ActiveSpan, Tracing } from './tracing.ts';

/** What a gRPC handler knows about its call besides the request message. */
export interface GrpcContext {
  /** The full method path, e.g. `/platform.analytics.v1.Analytics/Ingest`. */
  method: string;
  /** The call's request metadata as it came. */
  metadata: grpc.Metadata;
  /**
   * The text metadata as HTTP-style headers (first value per key, lower-case), so code shared with
   * REST routes reads the gateway's identity (`x-user-id`, `x-user-scope`) the same way.
   */
  headers: IncomingHttpHeaders;
  reqId: string;
  traceId: string;
  log: Logger;
  span: ActiveSpan;
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
}

/** A unary method: one request, one response. */
export type GrpcUnaryHandler<Req, Res> = (request: Req, ctx: GrpcContext) => Promise<Res> | Res;
/** A client-streaming method: the requests as they arrive, one response. */
export type GrpcClientStreamHandler<Req, Res> = (
  requests: AsyncIterable<Req>,
  ctx: GrpcContext,
) => Promise<Res>;
/** A server-streaming method: one request, the responses yielded (written with backpressure). */
export type GrpcServerStreamHandler<Req, Res> = (request: Req, ctx: GrpcContext) => AsyncIterable<Res>;
/** A bidirectional-streaming method. */
export type GrpcBidiStreamHandler<Req, Res> = (
  requests: AsyncIterable<Req>,
  ctx: GrpcContext,
) => AsyncIterable<Res>;
/** Any of the four; which one a method is comes from its proto (`stream` keywords). */
export type GrpcHandler = (input: never, ctx: GrpcContext) => unknown;

/** One gRPC service a platform service serves: its proto, its full name and a handler per method. */
export interface GrpcServiceSpec {
  /** Absolute path of the `.proto` file. */
  proto: string;
  /** Fully-qualified service name, e.g. `platform.analytics.v1.Analytics`. */
  service: string;
  /** Handlers by method name as written in the proto (`Ingest`, `GetTrending`). */
  handlers: Record<string, GrpcHandler>;
}

/**
 * How protos are turned into JS objects, for servers and clients alike: camelCase field names (the
 * same names the REST JSON uses), int64 as numbers (epoch milliseconds fit), enums as names, and
 * no defaults for unset fields, so "absent" stays distinguishable and shared validation sees what
 * a REST body without that key would give it.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
};

/** Loads `.proto` files with the platform's loader options. */
export function loadProtos(files: readonly string[]): protoLoader.PackageDefinition {
  return protoLoader.loadSync([...files], PROTO_LOADER_OPTIONS);
}

export interface GrpcSideOptions {
  services: readonly GrpcServiceSpec[];
  /** Largest request message accepted (the REST body limit); larger is RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** Serve server reflection (v1 and v1alpha). */
  reflection: boolean;
  log: Logger;
  metrics: ServiceMetrics;
  tracing: Tracing;
  /** Whether to log one line per call at info (failures are always logged). */
  requestLogging: boolean;
  /** True once the service is shutting down: new calls are refused with UNAVAILABLE. */
  shuttingDown(): boolean;
  /** The REST error handler's classification, shared so both protocols treat a throw alike. */
  classify(err: unknown, log: Logger): { error: HttpError; failure: string | undefined };
}

/** The running gRPC side. */
export interface GrpcSide {
  /** Serves one HTTP/2 connection (its preface still unread). */
  injectConnection(socket: Duplex): void;
  /** Method paths served (reflection excluded). */
  readonly methods: readonly string[];
  /** Graceful: GOAWAY to every connection, resolves when their calls have finished. */
  close(): Promise<void>;
  /** Cancels every call and closes every connection now. */
  forceClose(): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:@=+/-]{1,128}$/;

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> &
  Partial<grpc.ServerWritableStream<unknown, unknown>> & { metadata: grpc.Metadata };

/** Builds the gRPC server, registers the services' wrapped handlers (and reflection). */
export function createGrpcSide(options: GrpcSideOptions): GrpcSide {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
  });
  const files = [...new Set(options.services.map((s) => s.proto))];
  const definition = loadProtos(files);
  const methods: string[] = [];
  for (const spec of options.services) {
    const service = definition[spec.service] as grpc.ServiceDefinition | undefined;
    // Message types sit in the same map, told apart by their `format` key.
    if (!service || 'format' in service) {
      throw new Error(`gRPC service ${spec.service} is not defined in ${spec.proto}`);
    }
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, method] of Object.entries(service)) {
      const handler = spec.handlers[name];
      if (!handler) throw new Error(`gRPC method ${spec.service}/${name} has no handler`);
      impl[name] = wrap(method.path, method.requestStream, method.responseStream, handler, options);
      methods.push(method.path);
    }
    for (const name of Object.keys(spec.handlers)) {
      if (!(name in service)) throw new Error(`handler ${name} is not a method of ${spec.service}`);
    }
    server.addService(service, impl);
  }
  if (options.reflection) {
    new ReflectionService(reflectionDefinition(files, PROTO_LOADER_OPTIONS)).addToServer(server);
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    injectConnection: (socket) => injector.injectConnection(socket),
    methods,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    forceClose: () => server.forceShutdown(),
  };
}

/** The first string value of each text metadata key, as headers. */
function headersOf(metadata: grpc.Metadata): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

function wrap(
  path: string,
  requestStream: boolean,
  responseStream: boolean,
  handler: GrpcHandler,
  options: GrpcSideOptions,
): grpc.UntypedHandleCall {
  const { log: serviceLog, metrics, tracing } = options;
  const [, service = '', method = ''] = /^\/(.+)\/([^/]+)$/.exec(path) ?? [];
  const run = handler as unknown as (input: unknown, ctx: GrpcContext) => unknown;

  return (call: AnyCall, callback?: grpc.sendUnaryData<unknown>) => {
    const started = process.hrtime.bigint();
    const headers = headersOf(call.metadata);
    const incomingId = headers['x-request-id'];
    const reqId = typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    const traceparent = headers.traceparent;
    const span = tracing.startServerSpan(
      `${service}/${method}`,
      typeof traceparent === 'string' ? traceparent : undefined,
      {
        'rpc.system': 'grpc',
        'rpc.service': service,
        'rpc.method': method,
        'http.request_id': reqId,
      },
    );
    const log = serviceLog.child({ reqId, traceId: span.traceId });
    const aborter = new AbortController();
    call.on('cancelled', () => aborter.abort());
    const ctx: GrpcContext = {
      method: path,
      metadata: call.metadata,
      headers,
      reqId,
      traceId: span.traceId,
      log,
      span,
      signal: aborter.signal,
    };
    const responseMetadata = new grpc.Metadata();
    responseMetadata.set('x-request-id', reqId);
    call.sendMetadata(responseMetadata);

    /** What grpc-js answered a call the handler no longer owns: its deadline passed, or the client left. */
    const abandoned = () => {
      const deadline = call.getDeadline();
      const ms = deadline instanceof Date ? deadline.getTime() : deadline;
      return Number.isFinite(ms) && ms <= Date.now() ? GrpcCode.DEADLINE_EXCEEDED : GrpcCode.CANCELLED;
    };
    let finished = false;
    const finish = (code: number, failure?: string) => {
      if (finished) return;
      finished = true;
      // A call the client abandoned is answered by grpc-js, not by us: count what the client saw.
      const status = call.cancelled ? abandoned() : code;
      // Too slow for the caller is the service's failure like any 5xx, and its log line says so.
      if (status === GrpcCode.DEADLINE_EXCEEDED)
        failure ??= "DEADLINE_EXCEEDED: the caller's deadline passed first";
      const http = httpStatusOfGrpc(status);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observe('POST', path, http, seconds);
      span.setAttribute('rpc.grpc.status_code', status);
      span.end(http >= 500 ? (failure ?? true) : false);
      if (options.requestLogging || http >= 500) {
        const line = {
          method: 'POST',
          url: path,
          route: path,
          status: http,
          grpcStatus: status,
          durationMs: Math.round(seconds * 1e5) / 100,
          ...(http >= 500 && failure ? { error: failure } : {}),
        };
        if (http >= 500) log.error(line, 'request failed');
        else log.info(line, 'request');
      }
    };
    const fail = (err: unknown) => {
      // Whatever the handler threw after its call was abandoned (often the abort itself) reaches
      // nobody and is no fault of the service.
      if (call.cancelled) {
        finish(abandoned());
        return;
      }
      const { error, failure } = options.classify(err, log);
      const code = grpcCodeOfHttp(error.statusCode);
      const trailers = new grpc.Metadata();
      trailers.set('x-request-id', reqId);
      trailers.set('x-error-code', error.code);
      const retryAfter = retryAfterFor(error.statusCode, error.retryAfterS);
      if (retryAfter) trailers.set('retry-after', retryAfter);
      if (error.dependency) trailers.set('x-dependency-unavailable', error.dependency);
      if (error.details) trailers.set('x-error-details', JSON.stringify(error.details));
      const status: Partial<grpc.StatusObject> = { code, details: error.message, metadata: trailers };
      if (callback) callback(status);
      else call.emit('error', status);
      finish(code, failure);
    };

    if (options.shuttingDown()) {
      fail(new HttpError(503, 'SHUTTING_DOWN', 'this instance is shutting down; retry'));
      return;
    }
    const store: RequestContext = { reqId, traceId: span.traceId, traceparent: span.traceparent, log };
    requestContext.run(store, () => {
      const input = requestStream ? call : call.request;
      if (!responseStream) {
        Promise.resolve()
          .then(() => run(input, ctx))
          .then((response) => {
            callback?.(null, response);
            finish(GrpcCode.OK);
          }, fail);
        return;
      }
      void (async () => {
        try {
          for await (const message of run(input, ctx) as AsyncIterable<unknown>) {
            if (call.cancelled) break;
            if (!call.write?.(message)) await once(call, 'drain', { signal: aborter.signal });
          }
          call.end?.();
          finish(GrpcCode.OK);
        } catch (err) {
          fail(err);
        }
      })();
    });
  };
}
