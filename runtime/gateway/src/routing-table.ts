/** Longest-prefix routing of request paths to services, plus the per-route auth policy. */
import type { AuthMode, RouteSpec } from '../../contract/gateway-config.ts';
import type { RateLimit } from './rate-limiter.ts';

export interface Route extends RouteSpec {
  /** Normalised prefix without a trailing slash ("/" stays "/"). */
  prefix: string;
  auth: AuthMode;
  /** The route's own rate limit with its burst filled in (undefined: the gateway's default applies). */
  ownRateLimit: RateLimit | undefined;
}

const PUBLIC_PREFIXES = ['/auth', '/.well-known'];

function normalisePrefix(prefix: string): string {
  return prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}

function defaultAuth(prefix: string): AuthMode {
  return PUBLIC_PREFIXES.some((p) => prefix === p || prefix.startsWith(`${p}/`)) ? 'none' : 'required';
}

export class RoutingTable {
  readonly routes: readonly Route[];

  constructor(specs: readonly RouteSpec[]) {
    this.routes = specs
      .map((s) => {
        const prefix = normalisePrefix(s.prefix);
        const rl = s.rateLimit;
        const ownRateLimit = rl ? { rps: rl.rps, burst: rl.burst ?? Math.max(1, rl.rps * 2) } : undefined;
        return { ...s, prefix, auth: s.auth ?? defaultAuth(prefix), ownRateLimit };
      })
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The route whose prefix is the longest whole-segment prefix of `path` (`/content` matches `/content/x`, not `/contents`). */
  match(path: string): Route | undefined {
    for (const route of this.routes) {
      const p = route.prefix;
      if (p === '/') return route;
      if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47)) return route;
    }
    return undefined;
  }
}

/** `METHOD /content/*\/raw` patterns for requests that may go without a token. */
export class PathPatterns {
  readonly #patterns: { method: string; segments: string[] }[];

  constructor(patterns: readonly string[]) {
    this.#patterns = patterns.map((p) => {
      const [method = '', path = ''] = p.split(' ', 2);
      return { method, segments: path.split('/') };
    });
  }

  /**
   * Asked for every request on a route that requires a token: the path is split only when a
   * pattern has its method and number of segments, so most requests allocate nothing here.
   */
  matches(method: string, path: string): boolean {
    if (this.#patterns.length === 0) return false;
    let count = 1;
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) count++;
    let segments: string[] | undefined;
    for (const p of this.#patterns) {
      if (p.method !== method || p.segments.length !== count) continue;
      segments ??= path.split('/');
      const parts = segments;
      if (p.segments.every((s, i) => s === '*' || s === parts[i])) return true;
    }
    return false;
  }
}

/**
 * Paths the gateway refuses to route: dot segments (also percent-encoded), backslashes, NUL and
 * other control characters. Upstreams normalise paths differently, and `/auth/../content` must
 * not reach content through the public /auth route.
 */
export function isHostilePath(path: string): boolean {
  if (path.charCodeAt(0) !== 47) return true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x21 || c === 0x5c || c === 0x7f) return true;
  }
  if (path.indexOf('%') !== -1) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return true;
    }
    if (/[\u0000-\u001f\\\u007f]/.test(decoded)) return true;
    return hasDotSegment(decoded);
  }
  return hasDotSegment(path);
}

function hasDotSegment(path: string): boolean {
  if (path.indexOf('.') === -1) return false;
  for (const seg of path.split('/')) if (seg === '.' || seg === '..') return true;
  return false;
}
