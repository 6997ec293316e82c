/**
 * Errors a route handler throws to answer with a specific status. The service kit renders every
 * error as `{ error: { code, message } }`; anything not recognised becomes a 500 with a generic
 * message (details go to the log, never to the client).
 */

/** An error with an HTTP status and a stable machine-readable code. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly details: Record<string, unknown> | undefined;
  constructor(statusCode: number, code: string, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.code = code;
    this.details = details;
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new HttpError(400, 'BAD_REQUEST', message, details);
export const unauthorized = (message = 'authentication required') =>
  new HttpError(401, 'UNAUTHORIZED', message);
export const forbidden = (message = 'not allowed') => new HttpError(403, 'FORBIDDEN', message);
export const notFound = (message = 'not found') => new HttpError(404, 'NOT_FOUND', message);
export const conflict = (message: string) => new HttpError(409, 'CONFLICT', message);

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
