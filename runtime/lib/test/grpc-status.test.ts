import { describe, expect, it } from 'vitest';
import { GrpcCode, grpcCodeOfHttp, httpStatusOfGrpc } from '../grpc-status.ts';

describe('gRPC status ↔ HTTP status', () => {
  it('counts each gRPC status as the HTTP status of the shared table', () => {
    expect(
      Object.fromEntries(Object.entries(GrpcCode).map(([name, code]) => [name, httpStatusOfGrpc(code)])),
    ).toEqual({
      OK: 200,
      CANCELLED: 499,
      UNKNOWN: 500,
      INVALID_ARGUMENT: 400,
      DEADLINE_EXCEEDED: 504,
      NOT_FOUND: 404,
      ALREADY_EXISTS: 409,
      PERMISSION_DENIED: 403,
      RESOURCE_EXHAUSTED: 429,
      FAILED_PRECONDITION: 400,
      ABORTED: 409,
      OUT_OF_RANGE: 400,
      UNIMPLEMENTED: 501,
      INTERNAL: 500,
      UNAVAILABLE: 503,
      DATA_LOSS: 500,
      UNAUTHENTICATED: 401,
    });
  });

  it('answers a REST error with the gRPC code that counts as the same HTTP status', () => {
    for (const status of [200, 400, 401, 403, 404, 409, 429, 501, 503, 504]) {
      expect(httpStatusOfGrpc(grpcCodeOfHttp(status)), `HTTP ${status}`).toBe(status);
    }
    expect(grpcCodeOfHttp(413)).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(grpcCodeOfHttp(422)).toBe(GrpcCode.INVALID_ARGUMENT);
    // A precondition the caller did not meet stays a client error both ways.
    expect(httpStatusOfGrpc(grpcCodeOfHttp(412))).toBe(400);
    expect(grpcCodeOfHttp(500)).toBe(GrpcCode.INTERNAL);
    expect(grpcCodeOfHttp(502)).toBe(GrpcCode.INTERNAL);
  });
});
