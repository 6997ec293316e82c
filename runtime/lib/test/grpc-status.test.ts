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
      ALREADY_EXISTS: 500,
      PERMISSION_DENIED: 403,
      RESOURCE_EXHAUSTED: 429,
      FAILED_PRECONDITION: 500,
      ABORTED: 500,
      OUT_OF_RANGE: 500,
      UNIMPLEMENTED: 501,
      INTERNAL: 500,
      UNAVAILABLE: 503,
      DATA_LOSS: 500,
      UNAUTHENTICATED: 401,
    });
  });

  it('answers a REST error with the gRPC code that counts as the same HTTP status', () => {
    for (const status of [200, 400, 401, 403, 404, 429, 501, 503, 504]) {
      expect(httpStatusOfGrpc(grpcCodeOfHttp(status)), `HTTP ${status}`).toBe(status);
    }
    expect(grpcCodeOfHttp(413)).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(grpcCodeOfHttp(422)).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(grpcCodeOfHttp(500)).toBe(GrpcCode.INTERNAL);
    expect(grpcCodeOfHttp(502)).toBe(GrpcCode.INTERNAL);
  });
});
