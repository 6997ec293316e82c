/**
 * The catalogue of the runtime's problem codes: the stable `code` of every RFC 9457 problem the
 * gateway and the services answer with (runtime/lib/problem.ts builds the bodies), declared once
 * with its HTTP status. test/docs/error-codes.test.ts refuses a code thrown in runtime/ that is not
 * declared here, or declared and never thrown, and keeps docs/errors.md in step.
 *
 * To add a code: add `NEW_CODE: { status: <http status>, meaning: '<one line>' }` below
 * (alphabetical), then `npm run build && node bin/platformctl docs generate --only errors`.
 */

/** What the catalogue says about one problem code; `status: 'varies'` when the caller picks it. */
export interface ProblemCodeSpec {
  status: number | 'varies';
  meaning: string;
}

export const PROBLEM_CODES = {
  ABORTED: { status: 400, meaning: 'the client aborted the upload' },
  ADMIN_DISABLED: { status: 404, meaning: 'the gateway admin API is off (no ADMIN_TOKEN)' },
  AUTH_UNAVAILABLE: { status: 503, meaning: 'the gateway cannot fetch the signing keys to verify a token' },
  BAD_IDENTITY: {
    status: 401,
    meaning: 'the identity headers the gateway forwards are missing or malformed',
  },
  BAD_JSON: { status: 400, meaning: 'an admin API body is not JSON' },
  BAD_PATH: { status: 400, meaning: 'a request path is not acceptable (traversal, bad percent-encoding)' },
  BAD_REQUEST: { status: 400, meaning: 'a request is malformed' },
  BAD_REQUEST_BODY: { status: 400, meaning: 'a request body ended before its announced length' },
  BAD_REQUEST_HEADERS: {
    status: 400,
    meaning:
      'a header the gateway would forward (a claim of the verified token, say) cannot be framed safely',
  },
  BAD_SIGNATURE: { status: 403, meaning: 'a signed variant URL does not verify' },
  BAD_UPSTREAM_RESPONSE: { status: 502, meaning: 'an upstream answered something that is not HTTP' },
  BAD_WINDOW: { status: 400, meaning: 'a stats window outside 1s to 5m' },
  BLOBS_UNAVAILABLE: { status: 503, meaning: 'the blob store is unreachable' },
  BLOB_MISSING: { status: 404, meaning: 'a content item has no stored original' },
  BODY_TOO_LARGE: { status: 413, meaning: 'a request body exceeds the route limit' },
  BUS_UNAVAILABLE: { status: 503, meaning: 'the message bus is unreachable' },
  CLIENT_GONE: { status: 499, meaning: 'the client closed the connection before the answer' },
  CONFLICT: { status: 409, meaning: 'the request conflicts with the current state' },
  DATABASE_UNAVAILABLE: { status: 503, meaning: 'the database is unreachable' },
  DEADLINE_EXCEEDED: { status: 504, meaning: 'a gRPC call ran past its grpc-timeout at the gateway' },
  EMAIL_TAKEN: { status: 409, meaning: 'an account with that e-mail exists' },
  EMPTY: { status: 400, meaning: 'an upload without content' },
  EVENT_TYPE_FORBIDDEN: { status: 403, meaning: 'the caller may not send events of that type' },
  FAULT_INJECTED: { status: 'varies', meaning: 'a chaos fault aborted the request (status as configured)' },
  FORBIDDEN: { status: 403, meaning: 'the caller may not do this' },
  INGEST_LAGGING: {
    status: 503,
    meaning:
      'the analytics read models trail ingest past ANALYTICS_MAX_LAG_MS or ANALYTICS_MAX_BACKLOG_EVENTS; nothing was recorded',
  },
  INGEST_RATE_LIMITED: { status: 429, meaning: "a user's analytics ingest budget is spent" },
  INTERNAL: { status: 500, meaning: 'an unexpected error; details are in the log under the request id' },
  INVALID_BODY: { status: 400, meaning: 'an admin API body does not match its schema' },
  INVALID_CLIENT: { status: 401, meaning: 'unknown client or wrong client secret' },
  INVALID_CREDENTIALS: { status: 401, meaning: 'wrong e-mail or password' },
  INVALID_CURSOR: { status: 400, meaning: 'a pagination cursor does not parse' },
  INVALID_EVENTS: { status: 400, meaning: 'an analytics batch does not match the event schema' },
  INVALID_ID: { status: 400, meaning: 'an id is malformed' },
  INVALID_INPUT: { status: 400, meaning: 'a request does not match its schema' },
  INVALID_JSON: { status: 400, meaning: 'a body is not JSON' },
  INVALID_LIMIT: { status: 400, meaning: 'a page size out of range' },
  INVALID_REFRESH_TOKEN: { status: 401, meaning: 'a refresh token is unknown, expired or revoked' },
  INVALID_REQUEST: { status: 400, meaning: 'an OAuth request is malformed' },
  INVALID_SCOPE: { status: 400, meaning: 'a client asked for a scope it was not granted' },
  INVALID_TOKEN: { status: 401, meaning: 'an access token does not verify' },
  INVALID_VARIANT: { status: 400, meaning: 'variant parameters out of range' },
  METRICS_FAILED: { status: 500, meaning: 'the metrics registry could not be rendered' },
  NOT_AN_IMAGE: { status: 415, meaning: 'a variant was asked of content that is not an image' },
  NOT_FOUND: { status: 404, meaning: 'no such resource' },
  NO_HEALTHY_UPSTREAM: { status: 503, meaning: 'every instance of the service is ejected' },
  NO_ROUTE: { status: 404, meaning: 'no gateway route matches the path' },
  NO_UPSTREAM: { status: 503, meaning: 'the service has no ready instance' },
  RATE_LIMITED: { status: 429, meaning: "the client's token bucket is empty" },
  REFLECTION_FAILED: { status: 500, meaning: 'the gateway cannot load the protos gRPC reflection serves' },
  REFLECTION_OFF: {
    status: 501,
    meaning: 'gRPC reflection is off (NODE_ENV=production, no GRPC_REFLECTION=true)',
  },
  REFRESH_REUSED: { status: 401, meaning: 'a refresh token was used twice; the family is revoked' },
  REQUEST_TIMEOUT: { status: 408, meaning: 'a request body did not arrive in time' },
  SHUTTING_DOWN: { status: 503, meaning: 'the instance is draining for shutdown' },
  TOO_LARGE: { status: 413, meaning: 'an upload exceeds MAX_UPLOAD_BYTES' },
  TOO_MANY_ATTEMPTS: { status: 429, meaning: 'too many failed logins; retry after the delay given' },
  TOO_MANY_PIXELS: { status: 422, meaning: 'an image exceeds the pixel limit' },
  TRANSFORMS_BUSY: { status: 503, meaning: 'every image transform slot is busy' },
  UNAUTHENTICATED: { status: 401, meaning: 'the request carries no identity' },
  UNAUTHORIZED: { status: 401, meaning: 'a token (or the admin token) is missing or wrong' },
  UNDECODABLE: { status: 422, meaning: 'an image cannot be decoded' },
  UNKNOWN_PRESET: { status: 400, meaning: 'no variant preset of that name' },
  UNSUPPORTED_TYPE: { status: 415, meaning: 'an upload of a type content does not accept' },
  UPSTREAM_CLOSED_EARLY: { status: 502, meaning: 'an upstream closed the connection mid-answer' },
  UPSTREAM_TIMEOUT: { status: 504, meaning: 'an upstream did not answer in time' },
  UPSTREAM_UNAVAILABLE: { status: 502, meaning: 'an upstream refused or reset the connection' },
  VARIANT_NOT_ALLOWED: { status: 403, meaning: 'the variant is not allowed by the policy' },
  WEAK_PASSWORD: { status: 400, meaning: 'a password that is too short, common or breached' },
} as const satisfies Record<string, ProblemCodeSpec>;

export type ProblemCode = keyof typeof PROBLEM_CODES;
