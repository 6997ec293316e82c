/**
 * Errors a route handler throws to answer with a specific status. The service kit renders every
 * error as an RFC 9457 problem (see problem.ts); anything not recognised becomes a 500 with a
 * generic detail (the cause goes to the log, never to the client).
 */

/** What an HttpError may add to its problem besides status, code and message. */
export interface HttpErrorOptions {
  details?: Record<string, unknown>;
  /** Seconds for `Retry-After` (a 503 without it gets the default). */
  retryAfterS?: number;
  /** The missing backend of a 503 (`database`, `bus`, `blobs`), shown to clients and in metrics. */
  dependency?: string;
  cause?: unknown;
}

/** An error with an HTTP status and a stable machine-readable upper-snake code. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  readonly retryAfterS: number | undefined;
  readonly dependency: string | undefined;
  constructor(statusCode: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = options.details;
    this.retryAfterS = options.retryAfterS;
    this.dependency = options.dependency;
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new HttpError(400, 'BAD_REQUEST', message, { details });
export const unauthorized = (message = 'authentication required') =>
  new HttpError(401, 'UNAUTHORIZED', message);
export const forbidden = (message = 'not allowed') => new HttpError(403, 'FORBIDDEN', message);
export const notFound = (message = 'not found') => new HttpError(404, 'NOT_FOUND', message);
export const conflict = (message: string) => new HttpError(409, 'CONFLICT', message);

/**
 * A 503 because a backend is down: `code` names it (`DATABASE_UNAVAILABLE`), `dependency` says
 * which one, and the answer carries `Retry-After`.
 */
export const dependencyUnavailable = (
  code: string,
  dependency: string,
  message: string,
  cause?: unknown,
): HttpError => new HttpError(503, code, message, { dependency, cause });
