/**
 * gRPC for `load run` (k6's `k6/net/grpc`): unary calls encoded with the scenario's protos and
 * sent over a few multiplexed HTTP/2 sessions with node:http2. Why not a @grpc/grpc-js client: it
 * wraps each call in interceptors, metadata objects and status builders the generator does not
 * need, and a load generator's CPU is CPU the server under test on the same machine then lacks;
 * proto-loader still does the (de)serialisation, so messages follow the protos exactly.
 */
import { type ClientHttp2Session, connect, constants } from 'node:http2';
import { UsageError } from '../core/errors.ts';
import type { Scenario } from './scenario.ts';

/** Encodes one request message and decodes one reply of a method. */
export interface GrpcCodec {
  serialize(message: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

let codecs: Map<string, GrpcCodec> | undefined;

/** gRPC status names by code, for the summary's status lines (`grpc UNAVAILABLE`). */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** The summary key of a gRPC status. */
export function grpcStatusKey(code: number): string {
  return `grpc ${GRPC_STATUS_NAMES[code] ?? code}`;
}

/**
 * Loads the scenario's protos and checks that every gRPC request names a unary method they
 * define. Runs once per thread before a generator is made (proto-loader is imported only here).
 */
export async function loadGrpcCodecs(scenario: Scenario): Promise<void> {
  const methods = scenario.requests.flatMap((r) => (r.grpc ? [r.grpc.method] : []));
  if (methods.length === 0 || !scenario.grpc) return;
  const loader = await import('@grpc/proto-loader');
  let definition: import('@grpc/proto-loader').PackageDefinition;
  try {
    definition = loader.loadSync(scenario.grpc.protos, {
      includeDirs: scenario.grpc.importPaths,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
  } catch (err) {
    throw new UsageError(
      `cannot load the scenario's protos: ${(err as Error).message}`,
      'check grpc.protos (paths relative to the scenario) and grpc.importPaths for imports',
    );
  }
  const found = new Map<string, GrpcCodec>();
  for (const method of methods) {
    const slash = method.lastIndexOf('/');
    const service = definition[method.slice(0, slash)] as
      | Record<string, import('@grpc/proto-loader').MethodDefinition<unknown, unknown>>
      | undefined;
    const m = service && typeof service === 'object' ? service[method.slice(slash + 1)] : undefined;
    if (!m || typeof m.requestSerialize !== 'function') {
      const services = Object.keys(definition).filter((k) => !('format' in (definition[k] as object)));
      throw new UsageError(
        `the scenario's protos define no gRPC method ${method}`,
        `use package.Service/Method from the protos (services: ${services.join(', ') || 'none'})`,
      );
    }
    if (m.requestStream || m.responseStream) {
      throw new UsageError(
        `${method} is a streaming method; load run drives unary gRPC calls`,
        'pick a unary method (one request message, one reply)',
      );
    }
    found.set(method, { serialize: m.requestSerialize, deserialize: m.responseDeserialize });
  }
  codecs = found;
}

/** The codec of `method` (loadGrpcCodecs ran and checked it). */
export function grpcCodec(method: string): GrpcCodec {
  const codec = codecs?.get(method);
  if (!codec) throw new Error(`loadGrpcCodecs() must run before gRPC request ${method} is compiled`);
  return codec;
}

/** A message in gRPC's length-prefixed framing (uncompressed). */
export function frameMessage(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** The first message of a framed reply as JSON text ('' when there is none). */
export function replyJson(codec: GrpcCodec, framed: Buffer): string {
  if (framed.length < 5 || framed[0] !== 0) return '';
  const length = framed.readUInt32BE(1);
  return JSON.stringify(codec.deserialize(framed.subarray(5, 5 + length)));
}

/** The callbacks a call gets: the shape of the HTTP clients' handlers, so one Exchange serves all. */
export interface GrpcHandler {
  onRequestStart(controller: null): void;
  /** The gRPC status, once the call has ended. */
  onResponseStart(controller: null, status: number): void;
  /** The reply frames, in one piece, when wanted. */
  onResponseData(controller: null, chunk: Buffer): void;
  readonly wantsBody: boolean;
  onResponseEnd(): void;
  onResponseError(controller: null, err: Error): void;
}

export interface GrpcRequest {
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Status a call is given when the server answered with a non-gRPC HTTP status (the gRPC mapping). */
function statusOfHttp(status: number): number {
  if (status === 401) return 16;
  if (status === 403) return 7;
  if (status === 404) return 12;
  if (status === 429 || status === 502 || status === 503 || status === 504) return 14;
  if (status === 400) return 13;
  return 2;
}

/**
 * A few HTTP/2 sessions to the target, used round-robin; each call reports its gRPC status as the
 * status code and its reply frames as the body, through the handler the HTTP clients use.
 */
export class GrpcPool {
  readonly #origin: string;
  readonly #sessions: (ClientHttp2Session | undefined)[];
  readonly #timeoutMs: number;
  #next = 0;
  #destroyed = false;

  constructor(target: string, sessions: number, timeoutMs: number) {
    this.#origin = new URL(target).origin;
    this.#sessions = new Array(Math.max(1, sessions)).fill(undefined);
    this.#timeoutMs = timeoutMs;
  }

  #session(): ClientHttp2Session {
    const i = this.#next++ % this.#sessions.length;
    let s = this.#sessions[i];
    if (!s || s.closed || s.destroyed) {
      s = connect(this.#origin, { settings: { enablePush: false } });
      // A session's failure reaches each of its calls as a stream error.
      s.on('error', () => {});
      this.#sessions[i] = s;
    }
    return s;
  }

  dispatch(req: GrpcRequest, h: GrpcHandler): void {
    if (this.#destroyed) {
      h.onResponseError(null, Object.assign(new Error('the run is over'), { code: 'UND_ERR_DESTROYED' }));
      return;
    }
    let stream: ReturnType<ClientHttp2Session['request']>;
    try {
      stream = this.#session().request({
        ':method': 'POST',
        ':path': req.path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${this.#timeoutMs}m`,
        ...req.headers,
      });
    } catch (err) {
      h.onResponseError(null, err as Error);
      return;
    }
    h.onRequestStart(null);
    let status: number | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (headers) => {
      const http = Number(headers[':status']);
      if (http !== 200) status = statusOfHttp(http);
      else if (headers['grpc-status'] !== undefined) status = Number(headers['grpc-status']);
    });
    if (h.wantsBody) stream.on('data', (c: Buffer) => chunks.push(c));
    else stream.resume();
    stream.on('trailers', (trailers) => {
      status ??= Number(trailers['grpc-status'] ?? 2);
    });
    let failure: Error | undefined;
    stream.on('error', (err: Error) => {
      failure = err;
    });
    stream.setTimeout(this.#timeoutMs + 1000, () => {
      failure = Object.assign(new Error('the call timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
      stream.close(constants.NGHTTP2_CANCEL);
    });
    stream.once('close', () => {
      if (status === undefined) {
        h.onResponseError(
          null,
          failure ??
            Object.assign(new Error(`stream closed without a gRPC status (RST ${stream.rstCode})`), {
              code: 'ERR_HTTP2_STREAM_ERROR',
            }),
        );
        return;
      }
      h.onResponseStart(null, status);
      if (h.wantsBody) h.onResponseData(null, Buffer.concat(chunks));
      h.onResponseEnd();
    });
    stream.end(req.body);
  }

  /** Ends the sessions once their calls are done. */
  close(): void {
    for (const s of this.#sessions) s?.close();
  }

  /** Cuts every call in flight (the run stopped). */
  destroy(): void {
    this.#destroyed = true;
    for (const s of this.#sessions) s?.destroy();
  }
}
