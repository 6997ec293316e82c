/**
 * gRPC status codes and their HTTP equivalents, so gRPC calls fit the platform's HTTP-shaped RED
 * metrics, logs and canary analysis: a failed call is counted under the HTTP status the gRPC spec
 * maps its code to (doc/http-grpc-status-mapping.md, read backwards for the few codes HTTP lacks),
 * and an HttpError thrown by shared REST/gRPC code becomes the gRPC code a client expects.
 * Free of @grpc/grpc-js so the gateway can use it without loading the library.
 */

/** The gRPC status codes (the numbers are the wire values, as in @grpc/grpc-js `status`). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status code value. */
export type GrpcCodeValue = (typeof GrpcCode)[keyof typeof GrpcCode];

const NAME_OF_CODE: Record<number, string> = Object.fromEntries(
  Object.entries(GrpcCode).map(([name, code]) => [code, name]),
);

/**
 * A failed client call (grpc-client.ts): the gRPC status of the last attempt, and how many attempts
 * were made. Here rather than beside the client so that code telling its failures apart (content's
 * principal check) does not load @grpc/grpc-js before its first call.
 */
export class GrpcCallError extends Error {
  readonly code: number;
  readonly details: string;
  readonly attempts: number;
  constructor(method: string, code: number, details: string, attempts: number) {
    super(`${method} failed with ${NAME_OF_CODE[code] ?? code}: ${details}`);
    this.name = 'GrpcCallError';
    this.code = code;
    this.details = details;
    this.attempts = attempts;
  }
}

const HTTP_OF_GRPC: Record<number, number> = {
  [GrpcCode.OK]: 200,
  // The client gave up: counted like an HTTP client closing its connection (nginx's 499), so a
  // caller's cancellations do not read as the service's errors in a canary analysis.
  [GrpcCode.CANCELLED]: 499,
  [GrpcCode.INVALID_ARGUMENT]: 400,
  [GrpcCode.UNAUTHENTICATED]: 401,
  [GrpcCode.PERMISSION_DENIED]: 403,
  [GrpcCode.NOT_FOUND]: 404,
  // The caller's request met the resource's state (google.rpc.Code's HTTP mapping): 4xx, so a
  // conflict answered over gRPC is not a server error in a canary's analysis.
  [GrpcCode.ALREADY_EXISTS]: 409,
  [GrpcCode.ABORTED]: 409,
  [GrpcCode.FAILED_PRECONDITION]: 400,
  [GrpcCode.OUT_OF_RANGE]: 400,
  [GrpcCode.RESOURCE_EXHAUSTED]: 429,
  [GrpcCode.UNIMPLEMENTED]: 501,
  [GrpcCode.UNAVAILABLE]: 503,
  [GrpcCode.DEADLINE_EXCEEDED]: 504,
};

/**
 * The HTTP status a gRPC status counts as in metrics and logs: OK→200, INVALID_ARGUMENT→400,
 * UNAUTHENTICATED→401, PERMISSION_DENIED→403, NOT_FOUND→404, ALREADY_EXISTS and ABORTED→409,
 * FAILED_PRECONDITION and OUT_OF_RANGE→400, RESOURCE_EXHAUSTED→429, UNIMPLEMENTED→501, UNAVAILABLE→503, DEADLINE_EXCEEDED→504, CANCELLED→499, every other code
 * 500. The gateway (runtime/gateway/src/grpc-proxy.ts) counts with this table too, so a canary's
 * error ratio reads the same wherever a call was counted.
 */
export function httpStatusOfGrpc(code: number): number {
  return HTTP_OF_GRPC[code] ?? 500;
}

/** The gRPC status for an error answered over HTTP with `status` (a route's HttpError, shared code). */
export function grpcCodeOfHttp(status: number): GrpcCodeValue {
  switch (status) {
    case 400:
    case 415:
    case 422:
      return GrpcCode.INVALID_ARGUMENT;
    case 401:
      return GrpcCode.UNAUTHENTICATED;
    case 403:
      return GrpcCode.PERMISSION_DENIED;
    case 404:
      return GrpcCode.NOT_FOUND;
    case 409:
      return GrpcCode.ALREADY_EXISTS;
    case 412:
      return GrpcCode.FAILED_PRECONDITION;
    // Too large and too many are both a limit the caller ran into; gRPC has one code for it.
    case 413:
    case 429:
      return GrpcCode.RESOURCE_EXHAUSTED;
    case 499:
      return GrpcCode.CANCELLED;
    case 501:
      return GrpcCode.UNIMPLEMENTED;
    case 503:
      return GrpcCode.UNAVAILABLE;
    case 504:
      return GrpcCode.DEADLINE_EXCEEDED;
    default:
      return status >= 200 && status < 300
        ? GrpcCode.OK
        : status < 500
          ? GrpcCode.FAILED_PRECONDITION
          : GrpcCode.INTERNAL;
  }
}
