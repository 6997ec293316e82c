/**
 * One gRPC call proxied by the gateway: its state while in flight, and the metadata it carries
 * each way (what the client may not claim is dropped, what the gateway verified is added).
 */
import type {
  ClientHttp2Stream,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
  ServerHttp2Stream,
} from 'node:http2';
import { performance } from 'node:perf_hooks';
import { GrpcCode } from '../../lib/grpc-status.ts';
import type { ActiveSpan } from '../../lib/tracing.ts';
import { ConnectTimeoutError } from './grpc-sessions.ts';
import { formatGrpcTimeout } from './grpc-wire.ts';
import { GATEWAY_OWNED } from './headers.ts';
import type { Identity } from './jwt.ts';
import { errorCodeOf } from './proxy.ts';
import type { Route } from './routing-table.ts';
import type { Instance, UpstreamService } from './upstreams.ts';

/** Connection-specific request headers (RFC 9113 §8.2.2) and the ones the gateway sets itself. */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'http2-settings',
  'grpc-timeout',
  ...GATEWAY_OWNED,
]);
/** Transport failures that prove the upstream never saw the call: safe to send it elsewhere. */
export const NOT_DELIVERED = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_HTTP2_GOAWAY_SESSION',
  'ERR_HTTP2_INVALID_SESSION',
  // A stream still pending when its session failed: never sent.
  'ERR_HTTP2_STREAM_CANCEL',
]);
/** One gRPC call while it is in flight. */
export interface GrpcCall {
  stream: ServerHttp2Stream;
  headers: IncomingHttpHeaders;
  start: number;
  path: string;
  requestId: string;
  span: ActiveSpan;
  clientIp: string;
  route: Route | undefined;
  service: UpstreamService | undefined;
  version: string | undefined;
  instance: Instance | undefined;
  identity: Identity | undefined;
  /** The reflection server instead of a platform service. */
  local: boolean;
  attempts: number;
  tried: Set<Instance> | undefined;
  /** Request bytes received so far, while they still fit the replay buffer. */
  sent: Buffer[] | undefined;
  sentBytes: number;
  clientEnded: boolean;
  upstream: ClientHttp2Stream | undefined;
  /** Absolute deadline from `grpc-timeout` (performance.now() ms). */
  deadline: number | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Trailers to send once the response body has gone out. */
  trailers: OutgoingHttpHeaders | undefined;
  grpcStatus: number;
  errorCode: string | undefined;
  /** A gateway-made status is on its way out: nothing else may answer. */
  ending: boolean;
  done: boolean;
}

/** The call's request headers for the upstream: the client's metadata, then what the gateway vouches for. */
export function upstreamHeaders(call: GrpcCall, origin: string): OutgoingHttpHeaders {
  const h = call.headers;
  const out: OutgoingHttpHeaders = {
    ':method': 'POST',
    ':scheme': 'http',
    ':authority': new URL(origin).host,
    ':path': call.path,
  };
  for (const name of Object.keys(h)) {
    if (name.charCodeAt(0) === 58 || DROPPED_REQUEST_HEADERS.has(name)) continue;
    out[name] = h[name];
  }
  const prior = h['x-forwarded-for'];
  out['x-forwarded-for'] = typeof prior === 'string' && prior ? `${prior}, ${call.clientIp}` : call.clientIp;
  out['x-forwarded-proto'] = 'http';
  out['x-request-id'] = call.requestId;
  out.traceparent = call.span.traceparent;
  const id = call.identity;
  if (id) {
    out['x-user-id'] = id.userId;
    if (id.role !== undefined) out['x-user-role'] = id.role;
    if (id.scope !== undefined) out['x-user-scope'] = id.scope;
  }
  if (call.deadline !== undefined) out['grpc-timeout'] = formatGrpcTimeout(call.deadline - performance.now());
  return out;
}

/** The error code of a failed upstream stream; a cancelled pending stream says why its session failed. */
export function transportCode(err: unknown): string {
  const code = errorCodeOf(err);
  if (code !== 'ERR_HTTP2_STREAM_CANCEL') return code;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof ConnectTimeoutError) return cause.code;
  const causeCode = cause === undefined ? undefined : errorCodeOf(cause);
  return causeCode && causeCode !== 'UNKNOWN' ? causeCode : code;
}

/** The `grpc-status` of a trailers-only answer. */
export function grpcStatusOf(headers: IncomingHttpHeaders): number {
  const v = Number(headers['grpc-status']);
  return Number.isInteger(v) ? v : GrpcCode.UNKNOWN;
}

/** The upstream's response headers for the client, without HTTP/2 pseudo-headers other than :status. */
export function responseHeaders(headers: IncomingHttpHeaders, requestId: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': 200 };
  for (const name of Object.keys(headers)) {
    if (name.charCodeAt(0) === 58 || name === 'connection' || name === 'date') continue;
    out[name] = headers[name];
  }
  out['x-request-id'] ??= requestId;
  return out;
}

/** The upstream's trailers for the client; a missing `grpc-status` reads as UNKNOWN. */
export function forwardedTrailers(trailers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(trailers)) if (name.charCodeAt(0) !== 58) out[name] = trailers[name];
  if (out['grpc-status'] === undefined) out['grpc-status'] = String(GrpcCode.UNKNOWN);
  return out;
}
