/**
 * gRPC status codes as the gateway uses them: the HTTP status each one counts as in the RED
 * metrics (so canary analysis reads non-OK calls as errors with no change), the gRPC status an
 * upstream's non-200 HTTP answer stands for, and the `grpc-timeout` header.
 * Mappings follow grpc/doc/http-grpc-status-mapping.md and grpc/doc/statuscodes.md.
 */

export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The HTTP status a gRPC status counts as in the gateway's metrics and stats window. */
export function httpStatusOfGrpc(code: number): number {
  switch (code) {
    case 0:
      return 200;
    case 1:
      // The client gave up: the same as an HTTP client closing the connection.
      return 499;
    case 3:
      return 400;
    case 16:
      return 401;
    case 7:
      return 403;
    case 5:
      return 404;
    case 8:
      return 429;
    case 12:
      return 501;
    case 14:
      return 503;
    case 4:
      return 504;
    default:
      return 500;
  }
}

/** The gRPC status a client infers from an HTTP status other than 200 (HTTP to gRPC mapping). */
export function grpcStatusOfHttp(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The gRPC status of a gateway error answered with HTTP status `status` on the HTTP/1.1 side. */
export function grpcStatusOfGatewayError(status: number): number {
  if (status === 504 || status === 408) return GrpcStatus.DEADLINE_EXCEEDED;
  if (status === 429) return GrpcStatus.RESOURCE_EXHAUSTED;
  if (status === 401) return GrpcStatus.UNAUTHENTICATED;
  if (status === 403) return GrpcStatus.PERMISSION_DENIED;
  if (status === 404 || status === 501) return GrpcStatus.UNIMPLEMENTED;
  if (status === 502 || status === 503) return GrpcStatus.UNAVAILABLE;
  if (status >= 400 && status < 500) return GrpcStatus.INVALID_ARGUMENT;
  return GrpcStatus.INTERNAL;
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
