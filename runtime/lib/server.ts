/**
 * Service bootstrap: one call turns a route module into a production-shaped service with request
 * ids, per-request logs, RED metrics, tracing, `/healthz` `/readyz` `/metrics`, uniform JSON errors
 * (bad input is never a 5xx), body limits and graceful shutdown. Each service's `main.ts` is just
 * `runService({ name, migrations, routes })`. A service that also declares `grpc` services serves
 * them on the same port (HTTP/2 prior-knowledge connections are split off, see protocol-split.ts)
 * with the same request ids, logs, metrics, tracing, limits and drain (see grpc-server.ts).
 */
import { randomUUID } from 'node:crypto';
import { flushCompileCache } from 'node:module';
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import type { z } from 'zod';
import { tracedBus } from './bus-tracing.ts';
import {
  assertBackendsConfigured,
  type EnvSchema,
  loadConfig,
  parseConfig,
  type ServiceConfig,
} from './config.ts';
import { DependencyHealth } from './dependency-health.ts';
import { classifyError, sendProblem } from './error-answer.ts';
import type { GrpcServiceSpec, GrpcSide } from './grpc-server.ts';
import { createHttpClient, type HttpClient } from './http-client.ts';
import { HttpError, notFound } from './http-errors.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type ServiceMetrics } from './metrics.ts';
import { DEFAULT_RETRY_AFTER_S } from './problem.ts';
import { type ProtocolSplit, splitProtocols } from './protocol-split.ts';
import { type ReadyNotifier, readyNotifier } from './ready-notify.ts';
import { type RequestContext, requestContext } from './request-context.ts';
import { type Blobs, openBlobs } from './storage/blobs.ts';
import { type Bus, type DeadLetter, openBus } from './storage/bus.ts';
import { type Db, type Migration, type OpenDbOptions, openDb } from './storage/db.ts';
import { type ActiveSpan, initTracing, propagationOnly, type Tracing } from './tracing.ts';
import { drainUnreadBody } from './unread-body.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tracing span of this request (ids are present even when tracing is disabled). */
    span: ActiveSpan;
  }
}

/** What a service's routes and hooks get: config, observability and the storage it asked for. */
export interface ServiceDeps<Extra = Record<string, never>> {
  config: ServiceConfig<Extra>;
  log: Logger;
  metrics: ServiceMetrics;
  tracing: Tracing;
  /** The database (throws if the service was defined without `db`/`migrations`). */
  readonly db: Db;
  /** The event bus (throws if the service was defined without `bus: true`). */
  readonly bus: Bus;
  /** The blob store (throws if the service was defined without `blobs: true`). */
  readonly blobs: Blobs;
  /** A client for another service that forwards request id and traceparent. */
  httpClient(baseUrl: string, options?: { timeoutMs?: number }): HttpClient;
  /** Registers cleanup run on shutdown after in-flight requests drained, before bus and db close. */
  onClose(fn: () => Promise<void> | void): void;
}

export interface ServiceDefinition<S extends EnvSchema = z.ZodObject<Record<string, never>>> {
  /** Default service name (overridden by `SERVICE_NAME`). */
  name: string;
  /** zod object schema of the service's own env keys; the result is `deps.config.extra`. */
  env?: S;
  /** Open `DATABASE_URL` (implied by `migrations`). */
  db?: boolean;
  migrations?: readonly Migration[];
  /** Database options (e.g. `synchronous: 'FULL'`), possibly derived from the service's env. */
  dbOptions?: OpenDbOptions | ((config: ServiceConfig<z.infer<S>>) => OpenDbOptions);
  /** Open `BUS_URL`. */
  bus?: boolean;
  /** Open `BLOBS_URL`. */
  blobs?: boolean;
  /** Max request body in bytes for parsed bodies. Default 1 MiB. */
  bodyLimit?: number;
  /** Log one line per request at info (health/metrics at debug). Default true. */
  requestLogging?: boolean;
  /** Extra fastify options. */
  fastify?: Partial<FastifyServerOptions>;
  /** Registers the service's routes. */
  routes(app: FastifyInstance, deps: ServiceDeps<z.infer<S>>): void | Promise<void>;
  /**
   * gRPC services served on the same port as the routes (called after `routes`, so handlers can
   * share what the routes built). Requests are limited to `bodyLimit` bytes like REST bodies.
   */
  grpc?(deps: ServiceDeps<z.infer<S>>): readonly GrpcServiceSpec[] | Promise<readonly GrpcServiceSpec[]>;
  /** Runs after the server listens (start bus consumers, relays). */
  start?(deps: ServiceDeps<z.infer<S>>): void | Promise<void>;
  /**
   * The backends without which this service can serve nothing: readiness fails while one of them
   * is down. Default none, so an instance stays routed through a database or broker outage and only
   * the requests that need the missing backend answer 503 (see dependency-health.ts).
   */
  requires?: readonly ('database' | 'bus' | 'blobs')[];
  /** Extra readiness check: throw (message shown in `/readyz`) when not ready. */
  readiness?(deps: ServiceDeps<z.infer<S>>): Promise<void>;
  /**
   * Whether a supervisor may keep a standby of this service: a process that runs the service's
   * module-level code and then waits to be started (ready-notify.ts). Default true; say false when
   * importing the service's modules does real work (opens files or connections, starts timers).
   */
  standby?: boolean;
}

export interface RunningService<Extra = Record<string, never>> {
  app: FastifyInstance;
  deps: ServiceDeps<Extra>;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<{ port: number; host: string; url: string }>;
  /** Whether `/readyz` would answer 200 now (the same checks, run once). */
  isReady(): Promise<boolean>;
  /** The gRPC methods served on the same port (empty without `grpc` services). */
  grpcMethods: readonly string[];
  /**
   * Graceful stop: refuse new connections, drain in-flight requests and gRPC calls, run onClose
   * hooks, close bus then db.
   */
  close(): Promise<void>;
  /** Ends every connection now, HTTP/1.1 and HTTP/2 alike (when a drain takes too long). */
  closeConnections(): void;
}

export interface CreateServiceOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Log destination (tests capture lines here). Defaults to stdout. */
  logDestination?: DestinationStream;
}

const REQUEST_ID = /^[A-Za-z0-9._:@=+/-]{1,128}$/;
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/health/dependencies', '/metrics']);
/** How often a started service that is not ready yet checks again before notifying readiness. */
const READY_RECHECK_MS = 100;
/** How often backends are pinged in the background (state changes are logged and exported). */
const DEPENDENCY_CHECK_MS = 1000;
/** How long after readiness the default process metrics are registered, unless a scrape came first. */
const DEFAULT_METRICS_DELAY_MS = 1000;

function missing(what: string, flag: string): never {
  throw new Error(
    `this service was defined without ${what}; set \`${flag}\` in its createService definition`,
  );
}

/** Builds the service (opens storage, runs migrations, registers routes) without listening. */
export async function createService<S extends EnvSchema = z.ZodObject<Record<string, never>>>(
  def: ServiceDefinition<S>,
  options: CreateServiceOptions = {},
): Promise<RunningService<z.infer<S>>> {
  const config = parseConfig(def.name, options.env ?? process.env, def.env);
  const wantsDb = def.db === true || (def.migrations?.length ?? 0) > 0;
  assertBackendsConfigured(
    def.name,
    options.env ?? process.env,
    (['database', 'bus', 'blobs'] as const).filter((k) =>
      k === 'database' ? wantsDb : k === 'bus' ? def.bus : def.blobs,
    ),
  );
  const log = createLogger({
    service: config.service,
    version: config.version,
    instance: config.instance,
    level: config.logLevel,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const metrics = createMetrics({
    service: config.service,
    version: config.version,
    instance: config.instance,
  });
  const tracing = await initTracing({
    service: config.service,
    version: config.version,
    instance: config.instance,
    otlpEndpoint: config.otlpEndpoint,
    tracesDir: config.tracesDir,
  });

  const dbOptions = typeof def.dbOptions === 'function' ? def.dbOptions(config) : def.dbOptions;
  const db = wantsDb ? await openDb(config.databaseUrl, dbOptions) : undefined;
  if (db && def.migrations) {
    const applied = await db.migrate(def.migrations);
    if (applied.length > 0) log.info({ applied }, 'migrations applied');
  }
  // Every dead letter leaves one error line saying what, where and why (they used to leave none).
  const onDeadLetter = (dead: DeadLetter) =>
    log.error(
      {
        deadLetter: dead.id,
        queue: dead.queue,
        topic: dead.topic,
        reason: dead.reason,
        attempts: dead.attempts,
      },
      'message dead-lettered',
    );
  const bus = def.bus ? tracedBus(await openBus(config.busUrl, { onDeadLetter }), tracing, log) : undefined;
  const blobs = def.blobs ? await openBlobs(config.blobsUrl) : undefined;

  const health = new DependencyHealth(metrics.registry, log);
  const requires = new Set(def.requires ?? []);
  if (db) health.add('database', () => db.ping(), { critical: requires.has('database') });
  if (bus) health.add('bus', () => bus.ping(), { critical: requires.has('bus') });
  if (blobs) health.add('blobs', () => blobs.ping(), { critical: requires.has('blobs') });
  await health.check();
  // Until the bus first answers after `start` (consumers subscribed, queues bound), an event
  // published meanwhile would reach no queue: not ready yet. Later bus outages only degrade.
  let started = false;
  let busSettled = !bus;

  const closers: (() => Promise<void> | void)[] = [];
  const clients: HttpClient[] = [];
  const deps: ServiceDeps<z.infer<S>> = {
    config,
    log,
    metrics,
    tracing,
    get db() {
      return db ?? missing('a database', 'db: true');
    },
    get bus() {
      return bus ?? missing('a bus', 'bus: true');
    },
    get blobs() {
      return blobs ?? missing('a blob store', 'blobs: true');
    },
    httpClient(baseUrl, opts) {
      const client = createHttpClient({
        baseUrl,
        tracing,
        ...(opts?.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      });
      clients.push(client);
      return client;
    },
    onClose(fn) {
      closers.push(fn);
    },
  };

  const app = Fastify({
    loggerInstance: log,
    // Fastify's own two lines per request are replaced by one line in onResponse (with traceId).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    bodyLimit: def.bodyLimit ?? 1024 * 1024,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // Closing is answered by our onRequest hook, as a problem with Retry-After like every 503.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ...def.fastify,
  });
  app.decorateRequest('span', undefined as unknown as ActiveSpan);
  let shuttingDown = false;

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (shuttingDown) {
      reply.header('connection', 'close');
      sendProblem(reply, new HttpError(503, 'SHUTTING_DOWN', 'this instance is shutting down; retry'));
      return;
    }
    const route = request.routeOptions.url ?? 'unmatched';
    const traceparent = request.headers.traceparent;
    // Prometheus scrapes every 5 s and probes every second: traced, they buried real requests in
    // `platformctl traces`. Their ids are still propagated and logged.
    const tracer = QUIET_ROUTES.has(route) && !config.traceProbes ? propagationOnly : tracing;
    const span = tracer.startServerSpan(
      `${request.method} ${route}`,
      typeof traceparent === 'string' ? traceparent : undefined,
      { 'http.request.method': request.method, 'http.route': route, 'http.request_id': String(request.id) },
    );
    request.span = span;
    request.log = request.log.child({ traceId: span.traceId });
    const ctx: RequestContext = {
      reqId: String(request.id),
      traceId: span.traceId,
      traceparent: span.traceparent,
      log: request.log as Logger,
    };
    requestContext.run(ctx, done);
  });

  const requestLogging = def.requestLogging !== false;
  /** Why a request failed with a 5xx, for its log line (see onResponse). */
  const failures = new WeakMap<object, string>();
  // Keep-alive connections would otherwise stay open after their last response and hold the
  // drain until the force-close deadline; while shutting down every response closes its socket.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (shuttingDown) reply.header('connection', 'close');
    else if (!request.raw.complete && reply.getHeader('connection') === 'close') {
      // Answered before the body ended (413, 415, 403 on an upload): closing now would reset the
      // connection under a peer still writing, and a gateway in front would lose this answer.
      reply.removeHeader('connection');
      drainUnreadBody(request.raw);
    }
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.observe(request.method, route, reply.statusCode, seconds);
    request.span?.setAttribute('http.response.status_code', reply.statusCode);
    request.span?.end(reply.statusCode >= 500);
    // A 5xx is always logged, at error and with what went wrong, even with request lines off:
    // `platformctl logs <service> --level error` is where the runbooks send the on-call.
    const failure =
      reply.statusCode >= 500 ? (failures.get(request) ?? `HTTP ${reply.statusCode}`) : undefined;
    if (requestLogging || failure) {
      const line = {
        method: request.method,
        url: request.url,
        route,
        status: reply.statusCode,
        durationMs: Math.round(seconds * 1e5) / 100,
        ...(failure ? { error: failure } : {}),
      };
      if (failure) request.log.error(line, 'request failed');
      else if (QUIET_ROUTES.has(route)) request.log.debug(line, 'request');
      else request.log.info(line, 'request');
    }
    done();
  });

  /** What a request's throw answers, logged and noted for health alike for REST and gRPC. */
  const classify = (err: unknown, requestLog: Logger): { error: HttpError; failure: string | undefined } => {
    const { error, kind } = classifyError(err);
    // What the client never sees (an unexpected error's own message) goes to the log line.
    const cause = kind === 'unexpected' && err instanceof Error ? err.message : error.message;
    const failure = error.statusCode >= 500 ? `${error.code}: ${cause}` : undefined;
    if (kind === 'unexpected') requestLog.error({ err }, 'unhandled error');
    else if (error.dependency) {
      const cause = error.cause instanceof Error ? error.cause.message : undefined;
      requestLog.warn({ code: error.code, dependency: error.dependency, cause }, 'dependency unavailable');
      health.report(error.dependency, error.cause ?? error);
    }
    return { error, failure };
  };

  app.setErrorHandler((err, request, reply) => {
    const { error, failure } = classify(err, request.log as Logger);
    if (failure) failures.set(request, failure);
    return sendProblem(reply, error);
  });

  app.setNotFoundHandler((request, reply) => {
    sendProblem(reply, notFound(`no route for ${request.method} ${request.url}`));
  });

  // Liveness: the process answers. Never depends on a backend (a restart would not bring it back).
  app.get('/healthz', async () => ({ status: 'ok', service: config.service, version: config.version }));
  // Readiness: this instance can serve. Non-critical backends being down degrade it, not unready it.
  const readiness = async () => {
    const dependencies = health.snapshot();
    const checks: Record<string, string> = {};
    for (const [name, d] of Object.entries(dependencies)) {
      checks[name] = d.status === 'up' ? 'ok' : (d.error ?? 'down');
    }
    if (def.readiness) {
      try {
        await def.readiness(deps);
        checks.service = 'ok';
      } catch (err) {
        checks.service = err instanceof Error ? err.message : String(err);
      }
    }
    if (bus && !busSettled) {
      try {
        if (!started) throw new Error('starting');
        await bus.ping();
        busSettled = true;
      } catch (err) {
        checks.bus = err instanceof Error ? err.message : String(err);
      }
    }
    const missingCritical = health.criticalDown();
    const ready =
      !shuttingDown && busSettled && missingCritical.length === 0 && (checks.service ?? 'ok') === 'ok';
    const degraded = Object.keys(dependencies).filter((n) => dependencies[n]?.status === 'down');
    return { ready, checks, degraded };
  };
  app.get('/readyz', async (_request, reply) => {
    const { ready, checks, degraded } = await readiness();
    if (!ready) reply.header('retry-after', String(DEFAULT_RETRY_AFTER_S));
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      checks,
      ...(degraded.length > 0 ? { degraded } : {}),
    });
  });
  // Dependency health: each backend's state and since when, for operators and `platformctl status`.
  app.get('/health/dependencies', async () => ({ service: config.service, dependencies: health.snapshot() }));
  app.get('/metrics', async (_request, reply) => {
    await metrics.defaults.get();
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  await def.routes(app, deps);

  let grpcSide: GrpcSide | undefined;
  let split: ProtocolSplit | undefined;
  const grpcServices = def.grpc ? await def.grpc(deps) : [];
  if (grpcServices.length > 0) {
    // Loaded only by services that serve gRPC: the others never pay for @grpc/grpc-js.
    const { createGrpcSide } = await import('./grpc-server.ts');
    const side = createGrpcSide({
      services: grpcServices,
      maxMessageBytes: def.bodyLimit ?? 1024 * 1024,
      reflection: config.grpcReflection,
      log,
      metrics,
      tracing,
      requestLogging: def.requestLogging !== false,
      shuttingDown: () => shuttingDown,
      classify,
    });
    grpcSide = side;
    split = splitProtocols(app.server, { http2: (socket) => side.injectConnection(socket) });
  }

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing ??= (async () => {
      shuttingDown = true;
      health.stop();
      metrics.defaults.cancel();
      // Connections that never said a word are idle ones; gRPC connections get GOAWAY and finish
      // their calls while the HTTP server drains its own (it waits for both kinds to close).
      split?.closePending();
      await Promise.all([app.close(), grpcSide?.close()]);
      for (const fn of closers.reverse()) {
        try {
          await fn();
        } catch (err) {
          log.error({ err }, 'close hook failed');
        }
      }
      await Promise.all(clients.map((c) => c.close()));
      await bus?.close();
      await db?.close();
      await tracing.shutdown();
    })();
    return closing;
  }

  return {
    app,
    deps,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      log.info({ port, host: config.host }, 'listening');
      health.start(DEPENDENCY_CHECK_MS);
      if (def.start) await def.start(deps);
      started = true;
      // The span exporters load now, after readiness rather than before it (tracing.ts), and the
      // default process metrics are made then too (metrics.ts).
      tracing.warmUp();
      metrics.defaults.warmUp(DEFAULT_METRICS_DELAY_MS);
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      return { port, host: config.host, url: `http://${host}:${port}` };
    },
    isReady: async () => (await readiness()).ready,
    grpcMethods: grpcSide?.methods ?? [],
    close,
    closeConnections() {
      split?.closePending();
      grpcSide?.forceClose();
      app.server.closeAllConnections();
    },
  };
}

/** Sends READY=1 once the service is ready: at once, usually, else at the first recheck that finds it ready. */
async function notifyWhenReady(
  service: { isReady(): Promise<boolean> },
  notify: ReadyNotifier,
): Promise<void> {
  try {
    // Unref'd: a service that stops before it was ever ready is not held up by this loop.
    while (!(await service.isReady())) await new Promise((r) => setTimeout(r, READY_RECHECK_MS).unref());
    notify.ready();
  } catch {
    // A check that throws (the service is closing) leaves the supervisor's fallback to decide.
  }
}

/**
 * Entry point of a service process: loads env config (exit 1 when invalid), starts the service,
 * and on SIGTERM/SIGINT drains and exits 0 (force-closing connections after 8 s so the process is
 * gone within 10 s).
 */
export async function runService<S extends EnvSchema = z.ZodObject<Record<string, never>>>(
  def: ServiceDefinition<S>,
): Promise<RunningService<z.infer<S>>> {
  const notify = readyNotifier();
  // A standby waits here, with every module loaded, until its supervisor starts it (ready-notify.ts);
  // if the supervisor goes away first, nobody will.
  if (!notify.awaitStart()) process.exit(0);
  // Said first, so the supervisor stops polling /readyz for the rest of the start.
  notify.starting({ standby: def.standby !== false });
  loadConfig(def.name, def.env);
  let service: RunningService<z.infer<S>>;
  try {
    service = await createService(def);
    await service.listen();
    // Node writes its compile cache (NODE_COMPILE_CACHE, which the supervisor sets) when a process
    // exits normally; a service that crashes or is killed never does, and every restart compiled
    // from scratch. Written once ready, the next (re)start finds it warm.
    flushCompileCache();
    void notifyWhenReady(service, notify);
  } catch (err) {
    process.stderr.write(
      `${def.name}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exit(1);
  }
  const { log } = service.deps;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.warn('drain took too long; closing remaining connections');
      service.closeConnections();
    }, 8000);
    force.unref();
    const hard = setTimeout(() => process.exit(1), 9500);
    hard.unref();
    service.close().then(
      () => {
        log.info('stopped');
        log.flush(() => process.exit(0));
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush(() => process.exit(1));
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    log.flush(() => process.exit(1));
  });
  return service;
}
