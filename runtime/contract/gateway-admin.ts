/**
 * The gateway's admin API (Bearer ADMIN_TOKEN): its paths, request bodies and responses. The
 * gateway validates requests and types its answers with these schemas; platformctl's one client
 * (src/providers/local/gateway-client.ts) builds requests and parses answers with them.
 */
import { z } from 'zod';
import { instanceSchema, routeSchema, trafficSchema } from './gateway-config.ts';

import { MAX_STATS_WINDOW_MS, MIN_STATS_WINDOW_MS } from './stats-window.ts';

// Kept in their own module so that the CLI can check a --window without loading zod.
export { MAX_STATS_WINDOW_MS, MIN_STATS_WINDOW_MS };

/** The paths of the admin API. */
export const adminPaths = {
  state: '/admin/state',
  routes: '/admin/routes',
  faults: '/admin/faults',
  fault: (id: string) => `/admin/faults/${encodeURIComponent(id)}`,
  faultLease: (id: string) => `/admin/faults/${encodeURIComponent(id)}/lease`,
  instances: (service: string) => `/admin/services/${encodeURIComponent(service)}/instances`,
  traffic: (service: string) => `/admin/services/${encodeURIComponent(service)}/traffic`,
  /** `GET /admin/stats?window=<n>s[&service=<name>]`; the window is clamped to what the gateway keeps. */
  stats: (windowMs: number, service?: string) =>
    `/admin/stats?window=${statsWindowParam(windowMs)}${service ? `&service=${encodeURIComponent(service)}` : ''}`,
};

/** A window in ms as the `window` parameter: whole seconds rounded up, clamped to 1 s – 5 min. */
export function statsWindowParam(windowMs: number): string {
  const seconds = Math.ceil(windowMs / 1000);
  return `${Math.min(MAX_STATS_WINDOW_MS / 1000, Math.max(MIN_STATS_WINDOW_MS / 1000, seconds))}s`;
}

/** `PUT /admin/routes`: the whole routing table, replaced at once. */
export const routesRequestSchema = z.strictObject({ routes: z.array(routeSchema).max(1000) });

/** `PUT /admin/services/:service/instances`. */
export const instancesRequestSchema = z.strictObject({ instances: z.array(instanceSchema).max(1000) });

/** `PUT /admin/services/:service/traffic`. */
export const trafficRequestSchema = trafficSchema.refine((t) => Object.values(t.weights).some((w) => w > 0), {
  error: 'at least one version needs a weight above 0',
  path: ['weights'],
});

/** `PUT /admin/faults`: a delay and/or an abort with a status, per service/version/route. */
export const faultRequestSchema = z.strictObject({
  service: z.string().min(1),
  version: z.string().min(1).optional(),
  /** A path prefix; the fault applies to requests under it. */
  route: z.string().startsWith('/').optional(),
  delayMs: z.number().int().min(0).max(600_000).optional(),
  abortPct: z.number().min(0).max(100).optional(),
  abortStatus: z.number().int().min(400).max(599).optional(),
  /**
   * Lease: the fault lapses this long after it was created or last renewed, so a fault whose
   * injector died (kill -9) cannot stay behind. Without it the fault lasts until removed.
   */
  ttlMs: z.number().int().min(100).max(86_400_000).optional(),
});
export type FaultRequest = z.infer<typeof faultRequestSchema>;

/** `PUT /admin/faults/:id/lease`: renews a fault's lease for another `ttlMs`. */
export const faultLeaseSchema = z.strictObject({ ttlMs: z.number().int().min(100).max(86_400_000) });
export type FaultLease = z.infer<typeof faultLeaseSchema>;

export const faultSchema = faultRequestSchema.extend({
  id: z.string(),
  createdAt: z.string(),
  /** When the lease lapses (ISO time); absent for a fault without a lease. */
  expiresAt: z.string().optional(),
});
export type Fault = z.infer<typeof faultSchema>;

/** Answer to `PUT /admin/faults`. */
export const faultCreatedSchema = z.object({ id: z.string().min(1), fault: faultSchema });
export type FaultCreated = z.infer<typeof faultCreatedSchema>;

/** Answer to `DELETE /admin/faults[/:id]`. */
export const faultsRemovedSchema = z.object({ removed: z.number().int().nonnegative() });
export type FaultsRemoved = z.infer<typeof faultsRemovedSchema>;

/**
 * RED statistics of one version (or a whole service) over the window. On the wire the latencies
 * are 0 when there were no requests; readers turn that into "no data" (VersionMetrics).
 */
export const windowStatsSchema = z.object({
  requests: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  /** errors / requests; 0 without requests. */
  errorRate: z.number().min(0).max(1),
  /** Requests per second over the window. */
  rps: z.number().nonnegative(),
  /** Milliseconds; 0 without requests. */
  p50: z.number().nonnegative(),
  p95: z.number().nonnegative(),
  p99: z.number().nonnegative(),
  max: z.number().nonnegative(),
});
export type WindowStats = z.infer<typeof windowStatsSchema>;

/** Answer to `GET /admin/stats`. */
export const statsReportSchema = z.object({
  windowMs: z.number().int().positive(),
  services: z.record(
    z.string(),
    z.object({ total: windowStatsSchema, versions: z.record(z.string(), windowStatsSchema) }),
  ),
});
export type StatsReport = z.infer<typeof statsReportSchema>;
