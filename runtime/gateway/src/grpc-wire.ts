/**
 * The parts of gRPC over HTTP/2 the gateway's proxy reads and writes itself: `grpc-timeout`,
 * `grpc-message`, and the status a client infers from an upstream's non-200 HTTP answer
 * (grpc/doc/http-grpc-status-mapping.md). Status codes and their HTTP equivalents for the metrics
 * are runtime/lib/grpc-status.ts, shared with the services.
 */
import { GrpcCode } from '../../lib/grpc-status.ts';

/** The gRPC status a client infers from an HTTP status other than 200 (HTTP to gRPC mapping). */
export function grpcStatusOfHttp(status: number): number {
  switch (status) {
    case 400:
      return GrpcCode.INTERNAL;
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 404:
      return GrpcCode.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcCode.UNAVAILABLE;
    default:
      return GrpcCode.UNKNOWN;
  }
}

const TIMEOUT_UNITS_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000001,
};

/** `grpc-timeout` (1-8 digits and a unit, e.g. `250m`) in milliseconds; undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * (TIMEOUT_UNITS_MS[m[2] as string] as number);
}

/** Milliseconds as a `grpc-timeout` value (whole milliseconds, at least 1). */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole < 100_000_000 ? `${whole}m` : `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}

/**
 * `grpc-message` is percent-encoded (the spec allows only printable ASCII except `%` as is).
 * Gateway messages are short ASCII, so this mostly passes them through.
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
