/**
 * Turns whatever a route threw into the problem answer the client gets (see problem.ts): the
 * service kit's own HttpErrors, zod validation errors, fastify's 4xx errors, and, for anything
 * else, a 500 whose cause stays in the log. Bad input is never a 5xx.
 */
import type { FastifyReply } from 'fastify';
// zod's core error class, which errors from `zod` and `zod/mini` schemas alike are instances of;
// importing `zod` itself here would put its whole chained API into every service's start.
import { $ZodError } from 'zod/v4/core';
import { HttpError } from './http-errors.ts';
import { DEPENDENCY_HEADER, PROBLEM_CONTENT_TYPE, problem, retryAfterFor } from './problem.ts';
import { InvalidBlobKeyError } from './storage/blobs.ts';

/** Fastify's own 4xx errors, mapped to stable codes. */
const FASTIFY_CODES: Record<string, [number, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'INVALID_JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'BAD_REQUEST'],
};

/** Whether the thrown value was unexpected (logged as an error) or a known condition. */
export type ErrorKind = 'expected' | 'unexpected';

/** Maps a thrown value to an HttpError; `unexpected` means "log it, answer a generic 500". */
export function classifyError(err: unknown): { error: HttpError; kind: ErrorKind } {
  if (err instanceof HttpError) return { error: err, kind: 'expected' };
  if (err instanceof $ZodError) {
    const issues = err.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message }));
    return {
      error: new HttpError(400, 'INVALID_INPUT', 'request failed validation', { details: { issues } }),
      kind: 'expected',
    };
  }
  if (err instanceof InvalidBlobKeyError) {
    return { error: new HttpError(400, err.code, err.message), kind: 'expected' };
  }
  const e = err as Error & { statusCode?: number; code?: string; validation?: unknown };
  if (e?.validation) return { error: new HttpError(400, 'INVALID_INPUT', e.message), kind: 'expected' };
  const known = e?.code ? FASTIFY_CODES[e.code] : undefined;
  if (known) return { error: new HttpError(known[0], known[1], e.message), kind: 'expected' };
  if (e instanceof SyntaxError)
    return { error: new HttpError(400, 'INVALID_JSON', e.message), kind: 'expected' };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.code && /^[A-Z][A-Z0-9_]*$/.test(e.code) ? e.code : 'BAD_REQUEST';
    return { error: new HttpError(e.statusCode, code, e.message), kind: 'expected' };
  }
  return { error: new HttpError(500, 'INTERNAL', 'internal error'), kind: 'unexpected' };
}

/** Sends `err` as `application/problem+json`, with `Retry-After` where one is due. */
export function sendProblem(reply: FastifyReply, err: HttpError): FastifyReply {
  const retryAfter = retryAfterFor(err.statusCode, err.retryAfterS);
  if (retryAfter) reply.header('retry-after', retryAfter);
  if (err.dependency && err.statusCode === 503) reply.header(DEPENDENCY_HEADER, err.dependency);
  return reply
    .status(err.statusCode)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(
      problem(err.statusCode, err.code, err.message, {
        requestId: String(reply.request.id),
        ...(err.dependency ? { dependency: err.dependency } : {}),
        ...(err.details ? { details: err.details } : {}),
      }),
    );
}
