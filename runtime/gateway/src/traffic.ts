/**
 * Which version of a service a request goes to: a pinning header (`x-canary: always|never|<version>`),
 * then a sticky cookie, then a weighted random draw. Only versions that currently have an
 * available instance are candidates, so a version without instances never black-holes traffic.
 */
import type { TrafficSpec } from '../../contract/gateway-config.ts';

export interface TrafficPolicy {
  weights: Map<string, number> | undefined;
  stable: string | undefined;
  canary: string | undefined;
  headerName: string;
  /** With `name: value` that value pins to the canary too (besides `always`, `never` and version names). */
  headerValue: string | undefined;
  cookie: string | undefined;
}

export function trafficPolicy(spec: Partial<TrafficSpec>, defaultHeader: string): TrafficPolicy {
  const weights = spec.weights ? new Map(Object.entries(spec.weights)) : undefined;
  const keys = weights ? [...weights.keys()] : [];
  let headerName = defaultHeader.toLowerCase();
  let headerValue: string | undefined;
  if (spec.header) {
    const colon = spec.header.indexOf(':');
    headerName = (colon === -1 ? spec.header : spec.header.slice(0, colon)).trim().toLowerCase();
    headerValue = colon === -1 ? undefined : spec.header.slice(colon + 1).trim() || undefined;
  }
  return {
    weights,
    stable: spec.stable ?? keys[0],
    canary: spec.canary ?? keys[keys.length - 1],
    headerName,
    headerValue,
    cookie: spec.cookie,
  };
}

export interface VersionChoice {
  version: string | undefined;
  /** The choice came from the weighted draw and should be remembered in the sticky cookie. */
  setCookie: boolean;
}

/** The choice for a service without weights (any instance will do), shared: nothing to allocate. */
export const ANY_VERSION: VersionChoice = Object.freeze({ version: undefined, setCookie: false });

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * `available(version)` says whether the version has an instance that can take a request.
 * Returns `version: undefined` when the service has no weights (any instance will do).
 */
export function chooseVersion(
  policy: TrafficPolicy,
  headerValue: string | string[] | undefined,
  cookieHeader: string | undefined,
  available: (version: string) => boolean,
  random: () => number = Math.random,
): VersionChoice {
  const weights = policy.weights;
  if (!weights || weights.size === 0) return ANY_VERSION;

  const pinned = typeof headerValue === 'string' ? pinnedVersion(policy, headerValue) : undefined;
  if (pinned && available(pinned)) return { version: pinned, setCookie: false };

  if (policy.cookie) {
    const sticky = readCookie(cookieHeader, policy.cookie);
    if (sticky && (weights.get(sticky) ?? 0) > 0 && available(sticky))
      return { version: sticky, setCookie: false };
  }

  let total = 0;
  for (const [v, w] of weights) if (w > 0 && available(v)) total += w;
  if (total > 0) {
    let r = random() * total;
    let last: string | undefined;
    for (const [v, w] of weights) {
      if (w <= 0 || !available(v)) continue;
      last = v;
      r -= w;
      if (r < 0) return { version: v, setCookie: policy.cookie !== undefined };
    }
    return { version: last, setCookie: policy.cookie !== undefined };
  }
  // Every weighted version is down (or weighted 0): any version with a live instance beats a 503.
  for (const v of weights.keys()) if (available(v)) return { version: v, setCookie: false };
  return { version: undefined, setCookie: false };
}

function pinnedVersion(policy: TrafficPolicy, value: string): string | undefined {
  const v = value.trim();
  if (v === policy.headerValue || v === 'always') return policy.canary;
  if (v === 'never') return policy.stable;
  return policy.weights?.has(v) ? v : undefined;
}
