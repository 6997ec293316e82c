/**
 * The authenticated admin API the local provider, delivery and chaos engines drive:
 * instances, traffic weights, faults, state and windowed stats. Disabled without ADMIN_TOKEN.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import {
  type FaultCreated,
  type FaultsRemoved,
  faultLeaseSchema,
  faultRequestSchema,
  instancesRequestSchema,
  MAX_STATS_WINDOW_MS,
  MIN_STATS_WINDOW_MS,
  routesRequestSchema,
  type StatsReport,
  trafficRequestSchema,
} from '../../contract/gateway-admin.ts';
import { parseDuration } from '../../lib/duration.ts';
import { HttpError } from '../../lib/http-errors.ts';
import type { ControlOp } from './control.ts';
import type { Gateway } from './gateway.ts';
import { describeIssues } from './gateway-config.ts';
import type { Exchange } from './proxy.ts';

const BODY_LIMIT = 1024 * 1024;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokenMatches(header: string | undefined, expected: string): boolean {
  if (!header?.toLowerCase().startsWith('bearer ')) return false;
  return timingSafeEqual(digest(header.slice(7).trim()), digest(expected));
}

async function readJson(x: Exchange): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of x.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > BODY_LIMIT)
      throw new HttpError(413, 'BODY_TOO_LARGE', 'the admin API accepts bodies up to 1 MiB');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  } catch {
    throw new HttpError(400, 'BAD_JSON', 'the body is not valid JSON');
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HttpError(400, 'INVALID_BODY', describeIssues(parsed.error).trim());
  return parsed.data;
}

export function gatewayState(gw: Gateway): unknown {
  const now = Date.now();
  const services: Record<string, unknown> = {};
  for (const [name, s] of gw.registry.services) {
    services[name] = {
      traffic: s.traffic,
      stable: s.policy.stable,
      canary: s.policy.canary,
      header: s.policy.headerValue ? `${s.policy.headerName}: ${s.policy.headerValue}` : s.policy.headerName,
      cookie: s.policy.cookie,
      instances: s.instances.map((i) => {
        const b = i.breaker.snapshot(now);
        return {
          id: i.id,
          url: i.url,
          version: i.version,
          healthy: b.state === 'closed',
          state: b.state,
          consecutiveFailures: b.consecutiveFailures,
          ejectedForMs: b.ejectedForMs,
          ejections: b.ejections,
          pending: i.pending,
        };
      }),
    };
  }
  return {
    routes: gw.routes.routes.map((r) => ({ prefix: r.prefix, service: r.service, auth: r.auth })),
    services,
    faults: gw.faults.list(),
    rateLimit: gw.defaultRateLimit,
    retryBudget: gw.retryBudget.snapshot(now),
    inFlight: gw.inFlight,
    ...(gw.peers ? { worker: gw.peers.worker, workers: gw.peers.workers } : {}),
  };
}

/** Applies a change here and, in cluster mode, on every other worker. */
function control(gw: Gateway, op: ControlOp): void {
  gw.applyControl(op);
  gw.peers?.broadcast(op);
}

async function route(gw: Gateway, x: Exchange): Promise<[number, unknown]> {
  const method = x.method;
  const segments = x.path
    .split('/')
    .slice(2)
    .map((s) => decodeURIComponent(s));
  const [head, a, b] = segments;

  if (head === 'state' && segments.length === 1 && method === 'GET') return [200, gatewayState(gw)];

  if (head === 'stats' && segments.length === 1 && method === 'GET') {
    const params = new URL(x.url, 'http://gateway').searchParams;
    const text = params.get('window') ?? '10s';
    const windowMs = parseDuration(text);
    if (windowMs === undefined || windowMs < MIN_STATS_WINDOW_MS || windowMs > MAX_STATS_WINDOW_MS) {
      throw new HttpError(400, 'BAD_WINDOW', 'window must be a duration between 1s and 5m, e.g. ?window=10s');
    }
    const service = params.get('service') ?? undefined;
    if (!gw.peers) return [200, gw.stats.report(windowMs, { service }) satisfies StatsReport];
    const own = gw.stats.dump(windowMs, { service });
    const merged = gw.stats.merge([own, ...(await gw.peers.statsDumps(windowMs, service))]);
    return [200, merged satisfies StatsReport];
  }

  // The whole routing table at once: a service added to a running platform is routed at once.
  if (head === 'routes' && segments.length === 1 && method === 'PUT') {
    const body = validate(routesRequestSchema, await readJson(x));
    control(gw, { op: 'routes', routes: body.routes });
    gw.logger.info({ routes: body.routes.map((r) => r.prefix) }, 'routes updated');
    return [
      200,
      { routes: gw.routes.routes.map((r) => ({ prefix: r.prefix, service: r.service, auth: r.auth })) },
    ];
  }

  if (head === 'services' && a && segments.length === 3 && method === 'PUT') {
    if (b === 'instances') {
      const body = validate(instancesRequestSchema, await readJson(x));
      const ids = new Set(body.instances.map((i) => i.id));
      if (ids.size !== body.instances.length)
        throw new HttpError(400, 'INVALID_BODY', 'instance ids must be unique');
      control(gw, { op: 'instances', service: a, instances: body.instances });
      gw.logger.info({ upstream: a, instances: body.instances.map((i) => i.id) }, 'instances updated');
      return [200, (gatewayState(gw) as { services: Record<string, unknown> }).services[a]];
    }
    if (b === 'traffic') {
      const body = validate(trafficRequestSchema, await readJson(x));
      control(gw, { op: 'traffic', service: a, traffic: body });
      gw.logger.info({ upstream: a, weights: body.weights }, 'traffic updated');
      return [200, (gatewayState(gw) as { services: Record<string, unknown> }).services[a]];
    }
  }

  if (head === 'faults') {
    if (segments.length === 1 && method === 'GET') return [200, { faults: gw.faults.list() }];
    if (segments.length === 1 && (method === 'PUT' || method === 'POST')) {
      const spec = validate(faultRequestSchema, await readJson(x));
      const now = Date.now();
      const fault = {
        ...spec,
        id: randomUUID(),
        createdAt: new Date(now).toISOString(),
        ...(spec.ttlMs !== undefined ? { expiresAt: new Date(now + spec.ttlMs).toISOString() } : {}),
      };
      control(gw, { op: 'fault-add', fault });
      gw.logger.warn({ faultId: fault.id, upstream: fault.service, spec }, 'fault injected');
      return [201, { id: fault.id, fault } satisfies FaultCreated];
    }
    if (segments.length === 1 && method === 'DELETE') {
      const removed = gw.faults.size;
      control(gw, { op: 'faults-clear' });
      gw.logger.info({ removed }, 'faults cleared');
      return [200, { removed } satisfies FaultsRemoved];
    }
    if (segments.length === 3 && a && segments[2] === 'lease' && method === 'PUT') {
      const { ttlMs } = validate(faultLeaseSchema, await readJson(x));
      const fault = gw.faults.list().find((f) => f.id === a);
      if (!fault) throw new HttpError(404, 'NOT_FOUND', `no fault ${a} (removed, or its lease lapsed)`);
      const renewed = { ...fault, ttlMs, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
      control(gw, { op: 'fault-add', fault: renewed });
      return [200, { id: a, fault: renewed } satisfies FaultCreated];
    }
    if (segments.length === 2 && a && method === 'DELETE') {
      if (!gw.faults.list().some((f) => f.id === a)) throw new HttpError(404, 'NOT_FOUND', `no fault ${a}`);
      control(gw, { op: 'fault-remove', id: a });
      gw.logger.info({ faultId: a }, 'fault removed');
      return [200, { removed: 1 } satisfies FaultsRemoved];
    }
  }
  throw new HttpError(404, 'NOT_FOUND', `no admin endpoint ${method} ${x.path}`);
}

export async function handleAdmin(gw: Gateway, x: Exchange): Promise<void> {
  const token = gw.settings.adminToken;
  if (!token) return gw.error(x, 404, 'ADMIN_DISABLED', 'the admin API is disabled (ADMIN_TOKEN is not set)');
  if (!tokenMatches(x.req.headers.authorization, token)) {
    auditAdmin(gw, x, 401);
    x.res.setHeader('www-authenticate', 'Bearer realm="gateway-admin"');
    return gw.error(x, 401, 'UNAUTHORIZED', 'the admin API needs Authorization: Bearer <ADMIN_TOKEN>');
  }
  let status = 500;
  try {
    const [code, body] = await route(gw, x);
    status = code;
    gw.json(x, status, body);
  } catch (err) {
    if (err instanceof HttpError) {
      status = err.statusCode;
      return gw.error(x, err.statusCode, err.code, err.message);
    }
    if (err instanceof URIError) {
      status = 400;
      return gw.error(x, 400, 'BAD_PATH', 'malformed percent-encoding in the path');
    }
    gw.logger.error({ err }, 'admin API failure');
    gw.error(x, 500, 'INTERNAL', 'internal error');
  } finally {
    if (status !== 401) auditAdmin(gw, x, status);
  }
}

/**
 * One audit line per admin call that changes something or is refused (`audit: true`, read by
 * `platformctl audit events`). Successful reads (state, stats: polled every second by rollouts and
 * the dashboard) are left out so they do not drown the changes. Never the token or the body.
 */
function auditAdmin(gw: Gateway, x: Exchange, status: number): void {
  if (x.method === 'GET' && status < 400) return;
  const type = status === 401 ? 'gateway.admin_denied' : 'gateway.admin_call';
  gw.logger[status === 401 ? 'warn' : 'info'](
    { audit: true, type, method: x.method, path: x.path, status, ip: x.clientIp, reqId: x.requestId },
    type,
  );
}
