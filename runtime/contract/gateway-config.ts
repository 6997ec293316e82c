/**
 * The gateway's routing file (named by `GATEWAY_CONFIG`): routes by path prefix, each service's
 * upstream instances and traffic split, auth and rate limits. The gateway validates it with these
 * schemas; the local supervisor writes it typed by them, so the two cannot drift apart.
 */
import { z } from 'zod';

export const authModeSchema = z.enum(['required', 'optional', 'none']);
export type AuthMode = z.infer<typeof authModeSchema>;

const httpUrl = z.url({
  protocol: /^https?$/,
  error: 'expected an http(s) URL such as http://127.0.0.1:4001',
});

export const instanceSchema = z.object({
  id: z.string().min(1).max(200),
  url: httpUrl,
  version: z.string().min(1).max(100).default('dev'),
});
export type InstanceSpec = z.infer<typeof instanceSchema>;

/** Connect timeouts are per upstream pool (UPSTREAM_CONNECT_TIMEOUT_MS), not per route. */
const timeoutsSchema = z.strictObject({
  headersMs: z.number().int().positive().optional(),
  bodyMs: z.number().int().positive().optional(),
});
export type RouteTimeouts = z.infer<typeof timeoutsSchema>;

export const rateLimitSchema = z.strictObject({
  /** Tokens added per second per client; 0 disables the limit. */
  rps: z.number().nonnegative(),
  /** Bucket size (the burst a client may send at once); default 2 × rps. */
  burst: z.number().positive().optional(),
});
export type RateLimitSpec = z.infer<typeof rateLimitSchema>;

export const routeSchema = z.strictObject({
  prefix: z.string().startsWith('/', { error: 'a route prefix starts with "/"' }),
  service: z.string().min(1),
  /** JWT enforcement; default `none` for /auth and /.well-known, `required` otherwise. */
  auth: authModeSchema.optional(),
  timeouts: timeoutsSchema.optional(),
  /** Extra attempts for idempotent requests (default 2), still bounded by the retry budget. */
  retries: z.number().int().min(0).max(5).optional(),
  rateLimit: rateLimitSchema.optional(),
  /** Largest request body this route accepts (default MAX_BODY_BYTES); larger ones get 413 here. */
  maxBodyBytes: z.number().int().positive().optional(),
});
export type RouteSpec = z.infer<typeof routeSchema>;

export const trafficSchema = z.strictObject({
  /** Percentage per version; the first key is the stable version, the last the canary. */
  weights: z.record(z.string().min(1), z.number().min(0).max(100)),
  stable: z.string().optional(),
  canary: z.string().optional(),
  /** `name` or `name: value`: a request header pinning to a version (`always`, `never`, or a version). */
  header: z.string().min(1).max(200).optional(),
  /** Name of a sticky cookie that keeps a client on the version it first got. */
  cookie: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'a cookie name is 1-64 letters, digits, "_", "." or "-"' })
    .optional(),
});
export type TrafficSpec = z.infer<typeof trafficSchema>;

export const serviceSchema = z.strictObject({
  instances: z.array(instanceSchema).default([]),
  weights: trafficSchema.shape.weights.optional(),
  stable: z.string().optional(),
  canary: z.string().optional(),
  header: trafficSchema.shape.header,
  cookie: trafficSchema.shape.cookie,
});
export type ServiceSpec = z.infer<typeof serviceSchema>;

/**
 * Requests that may go without a token (a token, when sent, is still verified): public reads of
 * content originals and variants so that `<img src>` works. `METHOD /path/with/*` segments.
 */
export const DEFAULT_OPTIONAL_AUTH = [
  'GET /content/*/raw',
  'HEAD /content/*/raw',
  'GET /content/*/variant',
  'HEAD /content/*/variant',
];

export const gatewayConfigSchema = z.object({
  routes: z.array(routeSchema).default([]),
  services: z.record(z.string().min(1), serviceSchema).default({}),
  optionalAuth: z.array(z.string().regex(/^[A-Z]+ \/\S*$/)).default(DEFAULT_OPTIONAL_AUTH),
  rateLimit: rateLimitSchema.optional(),
});
export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;

/** What a writer of the file provides (defaults such as `optionalAuth` may be left out). */
export type GatewayConfigFile = z.input<typeof gatewayConfigSchema>;
