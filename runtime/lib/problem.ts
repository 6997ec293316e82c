/**
 * The one error shape of the platform's HTTP APIs: RFC 9457 problem details, served as
 * `application/problem+json` by the gateway and every service, with a stable upper-snake `code`.
 * Plain node:http code (the gateway) and fastify services both build bodies here, and CLI clients
 * read them with `readProblem`, so the three agree by construction.
 */
import { http } from './node-http.ts';

const { STATUS_CODES } = http;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Response header of a 503 caused by a missing backend (`database`, `bus`, `blobs`): the gateway
 * reads it to keep the instance routed (it still serves what does not need that backend) and to
 * count the request as "no upstream could serve it because <dependency> is down".
 */
export const DEPENDENCY_HEADER = 'x-dependency-unavailable';

/**
 * Seconds a client should wait before retrying a 503 when the thrower does not know better:
 * dependency outages are noticed and healed within about a second (pool reconnects, breaker
 * half-opens), so a longer default would only stretch client-visible errors.
 */
export const DEFAULT_RETRY_AFTER_S = 1;

/** An RFC 9457 problem with the platform's extension members. */
export interface Problem {
  /** A URI naming the problem type; stable per `code`, not meant to be dereferenced. */
  type: string;
  /** The HTTP reason phrase of `status` (the same for every occurrence of a type). */
  title: string;
  status: number;
  /** What went wrong this time, for a human. */
  detail: string;
  /** Stable machine-readable code, e.g. `DATABASE_UNAVAILABLE`. */
  code: string;
  /** The request id (also in `x-request-id`), so a report can be matched to logs. */
  requestId?: string;
  /** For dependency outages: which backend is missing (`database`, `bus`, `blobs`, an upstream). */
  dependency?: string;
  /** Structured extra information (validation issues, limits). */
  details?: Record<string, unknown>;
}

/** The problem type URI of a code: a tag URI (RFC 4151), unique without pretending to be a page. */
export function problemType(code: string): string {
  return `tag:platformctl,2026:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** Builds a problem body. */
export function problem(
  status: number,
  code: string,
  detail: string,
  extra: { requestId?: string; dependency?: string; details?: Record<string, unknown> } = {},
): Problem {
  return {
    type: problemType(code),
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(extra.requestId ? { requestId: extra.requestId } : {}),
    ...(extra.dependency ? { dependency: extra.dependency } : {}),
    ...(extra.details ? { details: extra.details } : {}),
  };
}

/**
 * The `Retry-After` value to send with a status, or undefined when none is due. Every 503 carries
 * one (RFC 9110 §10.2.3): without it clients retry at once and deepen the outage, or give up.
 */
export function retryAfterFor(status: number, retryAfterS: number | undefined): string | undefined {
  if (retryAfterS !== undefined) return String(Math.max(1, Math.ceil(retryAfterS)));
  return status === 503 ? String(DEFAULT_RETRY_AFTER_S) : undefined;
}

/** What a client needs from an error answer: the code, the human detail and the status. */
export interface ProblemSummary {
  status: number;
  code: string;
  detail: string;
  retryAfterS: number | undefined;
}

/**
 * Reads an error answer from one of the platform's services: a problem document when it is one,
 * otherwise the status and the start of the text, so callers print something useful either way.
 */
export function readProblem(status: number, text: string, retryAfter?: string | null): ProblemSummary {
  const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
  const retryAfterS = Number.isFinite(seconds) ? seconds : undefined;
  try {
    const body = JSON.parse(text) as Partial<Problem> | null;
    if (body && typeof body.code === 'string' && typeof body.detail === 'string') {
      return { status, code: body.code, detail: body.detail, retryAfterS };
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  const raw = text.trim().slice(0, 200);
  return { status, code: `HTTP_${status}`, detail: raw || (STATUS_CODES[status] ?? 'error'), retryAfterS };
}
