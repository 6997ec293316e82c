import { describe, expect, it } from 'vitest';
import { problem, readProblem, retryAfterFor } from '../problem.ts';

describe('problem details', () => {
  it('builds an RFC 9457 body with a stable type per code', () => {
    expect(problem(503, 'BUS_UNAVAILABLE', 'down', { requestId: 'r1', dependency: 'bus' })).toEqual({
      type: 'tag:platformctl,2026:problem:bus-unavailable',
      title: 'Service Unavailable',
      status: 503,
      detail: 'down',
      code: 'BUS_UNAVAILABLE',
      requestId: 'r1',
      dependency: 'bus',
    });
  });

  it('gives every 503 a Retry-After and rounds explicit values up to whole seconds', () => {
    expect(retryAfterFor(503, undefined)).toBe('1');
    expect(retryAfterFor(429, 2.2)).toBe('3');
    expect(retryAfterFor(503, 0.01)).toBe('1');
    expect(retryAfterFor(404, undefined)).toBeUndefined();
  });

  it('reads problems, and falls back to the status and text for anything else', () => {
    const body = JSON.stringify(problem(409, 'CONFLICT', 'taken'));
    expect(readProblem(409, body, null)).toEqual({
      status: 409,
      code: 'CONFLICT',
      detail: 'taken',
      retryAfterS: undefined,
    });
    expect(readProblem(502, '<html>bad gateway</html>', '5')).toEqual({
      status: 502,
      code: 'HTTP_502',
      detail: '<html>bad gateway</html>',
      retryAfterS: 5,
    });
    expect(readProblem(500, '', null).detail).toBe('Internal Server Error');
    expect(readProblem(400, '{"error":"old"}', null).code).toBe('HTTP_400');
  });
});
