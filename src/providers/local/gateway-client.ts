/**
 * Client of the runtime gateway's admin API (Bearer ADMIN_TOKEN): live instance lists, traffic
 * weights, faults and the sliding-window RED statistics that status, top and canaries read.
 */
import { readProblem } from '../../../runtime/lib/problem.ts';
import { PlatformError } from '../../core/errors.ts';
import type { FaultSpec, TrafficSpec } from '../provider.ts';

export interface GatewayInstance {
  id: string;
  url: string;
  version: string;
}

export interface GatewayRoute {
  prefix: string;
  service: string;
  /** Request bodies above this get 413 at the gateway. */
  maxBodyBytes?: number;
}

/** The GATEWAY_CONFIG file the supervisor writes before starting the gateway. */
export interface GatewayConfigFile {
  routes: GatewayRoute[];
  services: Record<
    string,
    { instances: GatewayInstance[]; weights?: Record<string, number>; header?: string; cookie?: string }
  >;
}

/** Stats of one version: the gateway's fields, normalised. */
export interface WindowStats {
  requests: number;
  errors: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

export class GatewayAdmin {
  readonly baseUrl: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, token: string, timeoutMs = 2000) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.token = token;
    this.timeoutMs = timeoutMs;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new PlatformError('GATEWAY_UNREACHABLE', `the gateway at ${this.baseUrl} does not answer`, {
        hint: 'check `platformctl status`; start the platform with `platformctl up`',
        cause: err,
      });
    }
    const text = await res.text();
    if (!res.ok) {
      const problem = readProblem(res.status, text, res.headers.get('retry-after'));
      throw new PlatformError(
        'GATEWAY_ADMIN_FAILED',
        `gateway admin ${method} ${path} answered ${res.status} ${problem.code}: ${problem.detail}`,
        {
          hint: 'see `platformctl logs gateway --since 5m --level warn`',
          details: { status: res.status, code: problem.code },
        },
      );
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  state(): Promise<unknown> {
    return this.request('GET', '/admin/state');
  }

  async setInstances(service: string, instances: GatewayInstance[]): Promise<void> {
    await this.request('PUT', `/admin/services/${encodeURIComponent(service)}/instances`, { instances });
  }

  async setTraffic(service: string, traffic: TrafficSpec): Promise<void> {
    await this.request('PUT', `/admin/services/${encodeURIComponent(service)}/traffic`, traffic);
  }

  async addFault(fault: FaultSpec): Promise<string> {
    const res = await this.request<{ id?: string } | undefined>('PUT', '/admin/faults', fault);
    return String(res?.id ?? '');
  }

  async clearFaults(id?: string): Promise<void> {
    await this.request('DELETE', id ? `/admin/faults/${encodeURIComponent(id)}` : '/admin/faults');
  }

  /** service → version → stats over the last `windowMs`. */
  async stats(windowMs: number): Promise<Map<string, Map<string, WindowStats>>> {
    const raw = await this.request<unknown>(
      'GET',
      `/admin/stats?window=${Math.max(1, Math.round(windowMs / 1000))}s`,
    );
    return parseStats(raw);
  }
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function toStats(v: Record<string, unknown>): WindowStats {
  const requests = num(v.requests ?? v.count);
  const errors = num(v.errors);
  return {
    requests,
    errors,
    errorRate: v.errorRate !== undefined ? num(v.errorRate) : requests ? errors / requests : 0,
    p50: num(v.p50 ?? v.p50Ms),
    p95: num(v.p95 ?? v.p95Ms),
    p99: num(v.p99 ?? v.p99Ms),
  };
}

function isStatsLeaf(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && ('requests' in v || 'count' in v);
}

/**
 * Accepts the shapes a stats endpoint reasonably has: `{services: {svc: {versions: {v: stats}}}}`,
 * `{services: {svc: {v: stats}}}`, `{svc: {v: stats}}` or a list of `{service, version, ...stats}`.
 */
export function parseStats(raw: unknown): Map<string, Map<string, WindowStats>> {
  const out = new Map<string, Map<string, WindowStats>>();
  const put = (service: string, version: string, v: Record<string, unknown>) => {
    let m = out.get(service);
    if (!m) {
      m = new Map();
      out.set(service, m);
    }
    m.set(version, toStats(v));
  };
  if (typeof raw !== 'object' || raw === null) return out;
  const obj = raw as Record<string, unknown>;
  const list = Array.isArray(raw)
    ? raw
    : Array.isArray(obj.stats)
      ? obj.stats
      : Array.isArray(obj.services)
        ? obj.services
        : undefined;
  if (list) {
    for (const item of list as Record<string, unknown>[]) {
      if (typeof item.service === 'string' && isStatsLeaf(item))
        put(item.service, String(item.version ?? 'dev'), item);
      else if (typeof item.service === 'string' && Array.isArray(item.versions)) {
        for (const v of item.versions as Record<string, unknown>[])
          put(item.service, String(v.version ?? 'dev'), v);
      }
    }
    return out;
  }
  const services = (typeof obj.services === 'object' && obj.services !== null ? obj.services : obj) as Record<
    string,
    unknown
  >;
  for (const [service, value] of Object.entries(services)) {
    if (typeof value !== 'object' || value === null) continue;
    const v = value as Record<string, unknown>;
    const versions = (typeof v.versions === 'object' && v.versions !== null ? v.versions : v) as Record<
      string,
      unknown
    >;
    if (Array.isArray(versions)) {
      for (const item of versions as Record<string, unknown>[])
        put(service, String(item.version ?? 'dev'), item);
      continue;
    }
    for (const [version, leaf] of Object.entries(versions))
      if (isStatsLeaf(leaf)) put(service, version, leaf);
  }
  return out;
}

/** Sums versions of a service (request-weighted error rate; the worst version's quantiles). */
export function combine(stats: Iterable<WindowStats>): WindowStats {
  const all = [...stats];
  const requests = all.reduce((s, x) => s + x.requests, 0);
  const errors = all.reduce((s, x) => s + x.errors, 0);
  const max = (k: 'p50' | 'p95' | 'p99') => all.reduce((m, x) => (x.requests > 0 ? Math.max(m, x[k]) : m), 0);
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : 0,
    p50: max('p50'),
    p95: max('p95'),
    p99: max('p99'),
  };
}
