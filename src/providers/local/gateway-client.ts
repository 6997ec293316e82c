/**
 * platformctl's one client of the runtime gateway's admin API (Bearer ADMIN_TOKEN): live instance
 * lists, traffic weights, faults and the sliding-window RED statistics that status, top, the
 * dashboard and canaries read. Paths, bodies and answers are runtime/contract/gateway-admin.ts.
 */

import { z } from 'zod';
import {
  adminPaths,
  type Fault,
  type FaultLease,
  type FaultRequest,
  faultCreatedSchema,
  faultSchema,
  faultsRemovedSchema,
  type instancesRequestSchema,
  type routesRequestSchema,
  type StatsReport,
  statsReportSchema,
  type trafficRequestSchema,
} from '../../../runtime/contract/gateway-admin.ts';
import type { instanceSchema } from '../../../runtime/contract/gateway-config.ts';
import { readProblem } from '../../../runtime/lib/problem.ts';
import { PlatformError } from '../../core/errors.ts';
import { toVersionMetrics, type VersionMetrics } from '../metrics/source.ts';
import type { TrafficSpec } from '../provider.ts';

/** An upstream instance as the gateway's routing file and admin API take it. */
export type GatewayInstance = z.input<typeof instanceSchema>;

export class GatewayAdmin {
  readonly baseUrl: string;
  private readonly token: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, token: string, timeoutMs = 2000) {
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.token = token;
    this.timeoutMs = timeoutMs;
  }

  /** One admin call; the answer is parsed with `answer`, the contract's schema of that endpoint. */
  async request<T>(method: string, path: string, answer: z.ZodType<T>, body?: unknown): Promise<T> {
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
          hint:
            res.status === 401
              ? 'the admin token does not match the running gateway: restart the platform (platformctl down && platformctl up)'
              : 'see `platformctl logs gateway --since 5m --level warn`',
          details: { status: res.status, code: problem.code },
        },
      );
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const parsed = answer.safeParse(json);
    if (!parsed.success) {
      throw new PlatformError(
        'GATEWAY_ADMIN_FAILED',
        `gateway admin ${method} ${path} answered something this platformctl does not understand`,
        {
          hint: 'the gateway runs another release of the runtime: rebuild it (platformctl release build gateway) and restart',
          details: { issues: parsed.error.issues.slice(0, 5) },
        },
      );
    }
    return parsed.data;
  }

  state(): Promise<unknown> {
    return this.request('GET', adminPaths.state, z.unknown());
  }

  /** Replaces the gateway's routing table (prefix → service). */
  async setRoutes(routes: z.input<typeof routesRequestSchema>['routes']): Promise<void> {
    const body: z.input<typeof routesRequestSchema> = { routes };
    await this.request('PUT', adminPaths.routes, z.unknown(), body);
  }

  async setInstances(service: string, instances: GatewayInstance[]): Promise<void> {
    const body: z.input<typeof instancesRequestSchema> = { instances };
    await this.request('PUT', adminPaths.instances(service), z.unknown(), body);
  }

  async setTraffic(service: string, traffic: TrafficSpec): Promise<void> {
    const body: z.input<typeof trafficRequestSchema> = traffic;
    await this.request('PUT', adminPaths.traffic(service), z.unknown(), body);
  }

  async addFault(fault: FaultRequest): Promise<string> {
    return (await this.request('PUT', adminPaths.faults, faultCreatedSchema, fault)).id;
  }

  /** The faults in force (lapsed leases are gone). */
  async faults(): Promise<Fault[]> {
    return (await this.request('GET', adminPaths.faults, z.object({ faults: z.array(faultSchema) }))).faults;
  }

  /** Renews a fault's lease (404 when it was removed or already lapsed). */
  async renewFault(id: string, ttlMs: number): Promise<void> {
    const body: FaultLease = { ttlMs };
    await this.request('PUT', adminPaths.faultLease(id), faultCreatedSchema, body);
  }

  async clearFaults(id?: string): Promise<void> {
    await this.request('DELETE', id ? adminPaths.fault(id) : adminPaths.faults, faultsRemovedSchema);
  }

  /** RED statistics per service and version over the last `windowMs` (clamped to 1 s – 5 min). */
  stats(windowMs: number, service?: string): Promise<StatsReport> {
    return this.request('GET', adminPaths.stats(windowMs, service), statsReportSchema);
  }
}

/** One version's figures from a stats report; a version the gateway has not seen has no data. */
export function versionMetricsOf(report: StatsReport, service: string, version: string): VersionMetrics {
  return toVersionMetrics(report.services[service]?.versions[version] ?? {});
}
