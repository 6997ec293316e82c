/**
 * What `up` puts in front of the built-in services at the gateway. First, the request body limit the gateway enforces on each service's routes, so an oversized body is
 * refused at the edge (413) and never reaches, or trips, the service behind it. The built-in
 * services' figures mirror their own limits (checked against the runtime definitions by
 * edge-defaults.test.ts); other services get the gateway's default (MAX_BODY_BYTES, 1 MiB) unless
 * their env sets MAX_BODY_BYTES.
 */
import type { ServiceSpec } from '../../core/config/schema.ts';

const KIB = 1024;
const MIB = 1024 * KIB;

/** Limits of the services shipped as `builtin:<name>`. */
export const BUILTIN_BODY_LIMITS: Record<string, (env: Record<string, string>) => number> = {
  auth: () => 16 * KIB,
  analytics: () => 2 * MIB,
  // Uploads are raw bodies up to the content service's MAX_UPLOAD_BYTES (default 50 MiB).
  content: (env) => positiveInt(env.MAX_UPLOAD_BYTES) ?? 50 * MIB,
};

function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,15}$/.test(text)) return undefined;
  const n = Number(text);
  return n > 0 ? n : undefined;
}

/** The gateway route limit for one service of platform.yaml, or undefined for the gateway's default. */
export function routeBodyLimit(spec: Pick<ServiceSpec, 'path' | 'env'>): number | undefined {
  const own = positiveInt(spec.env.MAX_BODY_BYTES);
  if (own !== undefined) return own;
  const builtin = spec.path.startsWith('builtin:') ? BUILTIN_BODY_LIMITS[spec.path.slice(8)] : undefined;
  return builtin?.(spec.env);
}

/**
 * Environment `up` gives the built-in gateway unless platform.yaml sets it: anonymous clients get
 * 50 requests/s per address (burst 100), so nobody without a token can flood a service through
 * it. Authenticated users are not limited by default.
 */
export const GATEWAY_UP_DEFAULTS: Record<string, string> = {
  ANON_RATE_LIMIT_RPS: '50',
  ANON_RATE_LIMIT_BURST: '100',
};

/**
 * The port of a gateway instance's admin listener (`/metrics`, `/admin/*`): its public port plus
 * 10000 (8080 → 18080), away from the services' ports and their extra instances (+1000), so
 * `up` keeps the admin API and the metrics off the public port.
 */
export function gatewayAdminPort(publicPort: number): number {
  return publicPort + 10_000 <= 65_535 ? publicPort + 10_000 : publicPort - 10_000;
}

/** The admin URL of the gateway listening on `publicUrl` (http://127.0.0.1:8080 → :18080). */
export function gatewayAdminUrl(publicUrl: string): string {
  const url = new URL(publicUrl);
  url.port = String(gatewayAdminPort(Number(url.port)));
  return url.origin;
}
