/**
 * The gateway: an HTTP/1.1 server whose handler authenticates, rate-limits, picks an upstream
 * version and instance, applies chaos faults, and proxies through per-instance keep-alive pools with
 * retries and passive circuit breaking. No framework, and on the public listener not even
 * node:http's request and response objects (runtime/lib/http1-server.ts), because every
 * microsecond here is paid by every request of the platform.
 */
import { createServer, type Server as NodeHttpServer, STATUS_CODES } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../../contract/gateway-config.ts';
import { Http1Server, type ServerRequest, type ServerResponse } from '../../lib/http1-server.ts';
import { DEFAULT_RETRY_AFTER_S, PROBLEM_CONTENT_TYPE, problem, retryAfterFor } from '../../lib/problem.ts';
import { RetryBudget } from '../../lib/retry-budget.ts';
import { propagationOnly, type Tracing } from '../../lib/tracing.ts';
import { DEFAULT_DRAIN, drainUnreadBody } from '../../lib/unread-body.ts';
import { AccessLog } from './access-log.ts';
import { handleAdmin } from './admin-api.ts';
import { BodyMeter, declaredLength, formatBytes } from './body-limit.ts';
import { type ClientLimits, ConnectionCap, IdleSweep, serverTimeouts } from './client-guard.ts';
import type { ClusterPeers, ControlOp } from './control.ts';
import type { GatewaySettings } from './env.ts';
import { FaultTable } from './faults.ts';
import { GrpcProxy } from './grpc-proxy.ts';
import { requestIdFrom, upstreamHeaders } from './headers.ts';
import { idOnlySpan } from './ids.ts';
import { bearerToken, JwtVerifier } from './jwt.ts';
import { GatewayMetrics } from './metrics.ts';
import { type AttemptOwner, type Exchange, UpstreamAttempt } from './proxy.ts';
import { type RateLimit, RateLimiter } from './rate-limiter.ts';
import { isHostilePath, PathPatterns, type Route, RoutingTable } from './routing-table.ts';
import { StatsWindow } from './stats-window.ts';
import { ANY_VERSION, chooseVersion } from './traffic.ts';
import { UpstreamRegistry } from './upstreams.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Idempotent requests with bodies up to this size are buffered so that they can be replayed. */
const REPLAY_BUFFER_MAX = 64 * 1024;
const DEFAULT_RETRIES = 2;
/** Gateway error codes meaning "no instance could serve this", with the reason they are counted under. */
const UNSERVED = new Map([
  ['NO_UPSTREAM', 'no ready instance'],
  ['NO_HEALTHY_UPSTREAM', 'every instance ejected'],
]);

export interface GatewayOptions {
  settings: GatewaySettings;
  config: GatewayConfig;
  logger: Logger;
  metrics?: GatewayMetrics;
  /** runtime/lib tracing; ids are propagated either way, spans recorded only when configured. */
  tracing?: Tracing;
  /** Cluster mode: the other workers (admin changes, stats and metrics span all of them). */
  peers?: ClusterPeers;
}

export class Gateway implements AttemptOwner {
  readonly settings: GatewaySettings;
  readonly env: GatewaySettings['extra'];
  readonly logger: Logger;
  /** The public listener: the lean HTTP/1.1 server, or node:http (GATEWAY_HTTP_SERVER=node). */
  readonly server: Http1Server | NodeHttpServer;
  readonly metrics: GatewayMetrics;
  readonly stats = new StatsWindow();
  readonly faults = new FaultTable();
  readonly registry: UpstreamRegistry;
  readonly retryBudget: RetryBudget;
  readonly rateLimiter = new RateLimiter();
  readonly verifier: JwtVerifier | undefined;
  readonly tracing: Tracing;
  readonly peers: ClusterPeers | undefined;
  readonly connectionCap: ConnectionCap;
  /** Keep-alive and socket idle timeouts of both listeners' client connections. */
  readonly idle: IdleSweep;
  readonly adminServer: NodeHttpServer | undefined;
  /** gRPC calls: HTTP/2 connections on the public port are handed to it (grpc-proxy.ts). */
  readonly grpc: GrpcProxy;
  routes: RoutingTable;
  optionalAuth: PathPatterns;
  defaultRateLimit: RateLimit;
  /** Anonymous clients (no verified token) also share this bucket per IP; rps 0 = off. */
  readonly anonRateLimit: RateLimit;
  inFlight = 0;
  shuttingDown = false;
  readonly #accessLog: AccessLog;
  #drained: (() => void) | undefined;

  constructor(opts: GatewayOptions) {
    const { settings, config } = opts;
    const env = settings.extra;
    this.settings = settings;
    this.env = env;
    this.logger = opts.logger;
    this.#accessLog = new AccessLog(opts.logger, env.ACCESS_LOG);
    this.metrics = opts.metrics ?? new GatewayMetrics();
    this.tracing = opts.tracing ?? propagationOnly;
    this.peers = opts.peers;
    this.routes = new RoutingTable(config.routes);
    this.optionalAuth = new PathPatterns(config.optionalAuth);
    const rl = config.rateLimit ?? { rps: env.RATE_LIMIT_RPS, burst: env.RATE_LIMIT_BURST || undefined };
    this.defaultRateLimit = { rps: rl.rps, burst: rl.burst ?? Math.max(1, rl.rps * 2) };
    this.anonRateLimit = {
      rps: env.ANON_RATE_LIMIT_RPS,
      burst: env.ANON_RATE_LIMIT_BURST || Math.max(1, env.ANON_RATE_LIMIT_RPS * 2),
    };
    this.retryBudget = new RetryBudget({ ratio: env.RETRY_BUDGET_RATIO, minPerWindow: env.RETRY_BUDGET_MIN });
    this.registry = new UpstreamRegistry(config.services, {
      connections: env.UPSTREAM_CONNECTIONS || 128,
      connectTimeoutMs: env.UPSTREAM_CONNECT_TIMEOUT_MS,
      breakerFailures: Math.max(1, env.BREAKER_FAILURES),
      breakerCooldownMs: env.BREAKER_COOLDOWN_MS,
      canaryHeader: env.CANARY_HEADER,
      onEject: (service, inst) => {
        this.metrics.ejected(service, inst.id);
        this.logger.warn(
          {
            upstream: service,
            upstreamInstance: inst.id,
            upstreamVersion: inst.version,
            cooldownMs: env.BREAKER_COOLDOWN_MS,
          },
          'upstream instance ejected',
        );
      },
    });
    this.verifier = settings.authJwksUrl
      ? new JwtVerifier({
          jwksUrl: settings.authJwksUrl,
          issuer: env.AUTH_ISSUER,
          audience: env.AUTH_AUDIENCE,
          cooldownMs: env.AUTH_JWKS_COOLDOWN_MS,
        })
      : undefined;
    const clientLimits: ClientLimits = {
      headersTimeoutMs: env.CLIENT_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: env.CLIENT_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env.CLIENT_KEEPALIVE_TIMEOUT_MS,
      socketIdleTimeoutMs: env.CLIENT_SOCKET_TIMEOUT_MS,
      maxConnectionsPerClient: env.MAX_CONNECTIONS_PER_CLIENT,
    };
    const timeouts = serverTimeouts(clientLimits);
    this.server =
      env.GATEWAY_HTTP_SERVER === 'lean'
        ? new Http1Server(
            {
              headersTimeoutMs: clientLimits.headersTimeoutMs,
              requestTimeoutMs: clientLimits.requestTimeoutMs,
              checkIntervalMs: timeouts.connectionsCheckingInterval,
            },
            (req, res) => this.handle(req, res),
          )
        : createServer(timeouts, (req, res) => this.handle(req, res));
    this.connectionCap = new ConnectionCap(clientLimits.maxConnectionsPerClient);
    this.idle = new IdleSweep(clientLimits);
    // Metrics and the admin API on a listener of their own, never reachable through the public port.
    this.adminServer =
      env.ADMIN_PORT === undefined
        ? undefined
        : createServer(timeouts, (req, res) => this.handle(req, res, true));
    this.connectionCap.attach(this.server);
    this.grpc = new GrpcProxy(this, {
      reflection: grpcReflectionOn(env.GRPC_REFLECTION, process.env.NODE_ENV),
      protoDirs: env.GRPC_PROTO_DIRS?.split(',').map((d) => d.trim()),
    });
    this.grpc.attach(this.server, clientLimits.headersTimeoutMs);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // node:http reports errors even while an answer is part-way out on the connection (the lean
      // server does not); a status line written then would land inside that answer's body.
      const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (socket.writable && !socket.destroyed && !answering?.headersSent) {
        const status =
          err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
        socket.end(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
        );
      } else socket.destroy();
    });
  }

  async listen(port = this.settings.port, host = this.settings.host): Promise<number> {
    await listenOn(this.server, port, host);
    if (this.adminServer)
      await listenOn(this.adminServer, this.env.ADMIN_PORT as number, this.env.ADMIN_HOST);
    return (this.server.address() as AddressInfo).port;
  }

  /** The admin listener's port (when ADMIN_PORT is set), once listening. */
  get adminPort(): number | undefined {
    const address = this.adminServer?.address();
    return address && typeof address === 'object' ? address.port : undefined;
  }

  /** Stops accepting, lets in-flight requests finish (up to the timeout), then closes upstream pools. */
  async close(timeoutMs = this.env.SHUTDOWN_TIMEOUT_MS): Promise<void> {
    this.shuttingDown = true;
    const grpcClosed = this.grpc.close(timeoutMs);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#drained = resolve;
        }),
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
    }
    this.server.closeAllConnections();
    await Promise.all([closed, grpcClosed]);
    this.#accessLog.flush();
    if (this.adminServer?.listening) {
      const admin = this.adminServer;
      await new Promise<void>((resolve) => {
        admin.close(() => resolve());
        admin.closeAllConnections();
      });
    }
    this.idle.stop();
    await this.registry.close();
  }

  /** Applies an admin change to this process's state (see control.ts). */
  applyControl(c: ControlOp): void {
    switch (c.op) {
      case 'routes':
        this.routes = new RoutingTable(c.routes);
        break;
      case 'instances':
        this.registry.setInstances(c.service, c.instances);
        break;
      case 'traffic':
        this.registry.setTraffic(c.service, c.traffic);
        break;
      case 'fault-add':
        this.faults.restore(c.fault);
        break;
      case 'fault-remove':
        this.faults.remove(c.id);
        break;
      case 'faults-clear':
        this.faults.clear();
        break;
    }
  }

  /**
   * One request on the public listener, or (`onAdmin`) on the admin listener. With an admin
   * listener (ADMIN_PORT) `/metrics` and `/admin/*` exist only there, and that listener serves
   * nothing else.
   */
  handle(req: ServerRequest, res: ServerResponse, onAdmin = false): void {
    if (this.connectionCap.turnedAway(req.socket)) {
      req.socket.destroy();
      return;
    }
    this.idle.begin(req.socket);
    this.inFlight++;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    const parent = req.headers.traceparent;
    const traceparent = typeof parent === 'string' ? parent : undefined;
    const span = this.tracing.enabled
      ? this.tracing.startServerSpan(`gateway ${method}`, traceparent, { 'http.method': method })
      : idOnlySpan(traceparent);
    const x: Exchange = {
      req,
      res,
      start: performance.now(),
      method,
      url,
      path,
      requestId: requestIdFrom(req.headers['x-request-id']),
      span,
      clientIp: req.socket.remoteAddress ?? 'unknown',
      route: undefined,
      service: undefined,
      version: undefined,
      instance: undefined,
      identity: undefined,
      upstreamHeaders: undefined,
      body: null,
      hasBody:
        req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0,
      replayable: true,
      attempts: 0,
      tried: undefined,
      setCookie: undefined,
      controller: undefined,
      clientGone: false,
      done: false,
      status: 0,
      errorCode: undefined,
    };
    if (this.shuttingDown) res.shouldKeepAlive = false;
    // `on`, not `once`: a response closes once, and once's wrapper would cost two more objects per request.
    res.on('close', () => {
      if (x.done) return;
      x.clientGone = true;
      if (x.controller) x.controller.abort(new Error('client closed the connection'));
      else this.finish(x, 499);
    });

    if (path === '/healthz') {
      this.json(x, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      if (this.shuttingDown) res.setHeader('retry-after', String(DEFAULT_RETRY_AFTER_S));
      this.json(x, this.shuttingDown ? 503 : 200, { status: this.shuttingDown ? 'shutting down' : 'ready' });
      return;
    }
    const adminPath = path === '/metrics' || path === '/admin' || path.startsWith('/admin/');
    if (adminPath && (onAdmin || !this.adminServer)) {
      if (path === '/metrics') void this.serveMetrics(x);
      else void handleAdmin(this, x);
      return;
    }
    if (onAdmin || adminPath) {
      this.error(
        x,
        404,
        'NO_ROUTE',
        onAdmin ? `the admin listener serves /metrics and /admin/* only` : `no route for ${path}`,
      );
      return;
    }
    if (isHostilePath(path)) {
      this.error(x, 400, 'BAD_PATH', 'the request path is not acceptable');
      return;
    }

    const route = this.routes.match(path);
    if (!route) {
      this.error(x, 404, 'NO_ROUTE', `no route for ${path}`);
      return;
    }
    x.route = route;
    const bodyLimit = route.maxBodyBytes ?? this.env.MAX_BODY_BYTES;
    const declared = declaredLength(req.headers);
    if (declared !== undefined && declared > bodyLimit) {
      this.tooLarge(x, bodyLimit);
      return;
    }

    let mode = route.auth;
    if (mode === 'required' && this.optionalAuth.matches(x.method, path)) mode = 'optional';
    const token = mode === 'none' ? undefined : bearerToken(req.headers.authorization);
    if (token === undefined) {
      if (mode === 'required') {
        this.unauthorized(x, 'missing bearer token');
        return;
      }
      this.admit(x);
      return;
    }
    if (!this.verifier) {
      this.error(x, 503, 'AUTH_UNAVAILABLE', 'token verification is not configured');
      return;
    }
    const known = this.verifier.cachedOn(req.socket, token);
    if (known) {
      x.identity = known;
      this.admit(x);
      return;
    }
    this.verifier.verify(token).then(
      (result) => {
        if (x.clientGone) return;
        if (!result.ok) {
          if (result.reason === 'signing keys unavailable') {
            return this.error(
              x,
              503,
              'AUTH_UNAVAILABLE',
              'cannot fetch the signing keys to verify the token',
            );
          }
          this.unauthorized(x, result.reason);
          return;
        }
        x.identity = result.identity;
        this.admit(x);
      },
      (err: unknown) => this.error(x, 500, 'INTERNAL', (err as Error).message),
    );
  }

  /** After authentication: rate limit, version choice, faults, then the upstream. */
  admit(x: Exchange): void {
    const route = x.route as Route;
    if (!x.identity && this.anonRateLimit.rps > 0) {
      // Anonymous requests cost the same as any (a variant render, a login's argon2) and come
      // from anywhere, so they get a budget of their own per address, on top of the route's.
      const decision = this.rateLimiter.take(`anon ${x.clientIp}`, this.anonRateLimit);
      if (!decision.ok) {
        this.metrics.rateLimited(route.prefix);
        x.res.setHeader('retry-after', String(decision.retryAfterS));
        this.error(
          x,
          429,
          'RATE_LIMITED',
          `too many anonymous requests; retry after ${decision.retryAfterS}s`,
        );
        return;
      }
    }
    const own = route.ownRateLimit;
    const limit = own ?? this.defaultRateLimit;
    const now = Date.now();
    if (limit.rps > 0) {
      const client = x.identity ? x.identity.clientKey : `ip:${x.clientIp}`;
      // A route with its own limit has its own buckets; the default limit is one budget per client.
      const key = own ? `${route.prefix} ${client}` : client;
      const decision = this.rateLimiter.take(key, limit, now);
      if (!decision.ok) {
        this.metrics.rateLimited(route.prefix);
        x.res.setHeader('retry-after', String(decision.retryAfterS));
        this.error(x, 429, 'RATE_LIMITED', `too many requests; retry after ${decision.retryAfterS}s`);
        return;
      }
    }

    const service = this.registry.get(route.service);
    if (!service || service.instances.length === 0) {
      this.error(x, 503, 'NO_UPSTREAM', `service ${route.service} has no instances`);
      return;
    }
    x.service = service;
    const req = x.req;
    // Without weights there is nothing to choose: no closure or header reads per request.
    const choice = service.policy.weights
      ? chooseVersion(service.policy, req.headers[service.policy.headerName], req.headers.cookie, (v) =>
          service.hasAvailable(v, now),
        )
      : ANY_VERSION;
    x.version = choice.version;
    if (choice.setCookie && choice.version !== undefined && service.policy.cookie) {
      x.setCookie = `${service.policy.cookie}=${encodeURIComponent(choice.version)}; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax`;
    }

    const fault = this.faults.apply(service.name, x.version, x.path);
    if (fault) {
      const run = () => {
        if (x.clientGone) return;
        if (fault.abort) {
          // Without weights no version was chosen; count the abort against the version that would have served.
          x.version ??= service.pick(undefined, Date.now())?.version;
          this.error(x, fault.abort.status, 'FAULT_INJECTED', `fault ${fault.abort.faultId} injected`);
          return;
        }
        this.startProxy(x);
      };
      if (fault.delayMs > 0) setTimeout(run, fault.delayMs);
      else run();
      return;
    }
    this.startProxy(x);
  }

  startProxy(x: Exchange): void {
    const req = x.req;
    x.upstreamHeaders = upstreamHeaders(req.rawHeaders, req.headers, {
      requestId: x.requestId,
      traceparent: x.span.traceparent,
      clientIp: x.clientIp,
      userId: x.identity?.userId,
      role: x.identity?.role,
      scope: x.identity?.scope,
    });
    this.retryBudget.recordRequest();
    if (!x.hasBody) {
      x.body = null;
      x.replayable = true;
      this.forward(x);
      return;
    }
    const length = Number(req.headers['content-length']);
    if (IDEMPOTENT.has(x.method) && Number.isFinite(length) && length <= REPLAY_BUFFER_MAX) {
      const chunks: Buffer[] = [];
      const stalled = setTimeout(() => {
        req.pause();
        x.res.shouldKeepAlive = false;
        this.error(x, 408, 'REQUEST_TIMEOUT', 'the request body did not arrive in time');
      }, this.env.UPSTREAM_BODY_TIMEOUT_MS);
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => {
        clearTimeout(stalled);
        if (x.done) return;
        x.body = Buffer.concat(chunks);
        x.replayable = true;
        this.forward(x);
      });
      req.once('error', () => {
        clearTimeout(stalled);
        this.finish(x, 499);
      });
      return;
    }
    // Uploads (video) stream through: never buffered, so they cannot be replayed. A declared
    // length was checked against the limit already (and node stops the body there); a chunked
    // one is counted on its way.
    x.body = Number.isFinite(length)
      ? req
      : req.pipe(new BodyMeter(x.route?.maxBodyBytes ?? this.env.MAX_BODY_BYTES));
    x.replayable = false;
    this.forward(x);
  }

  forward(x: Exchange): void {
    if (x.clientGone) {
      this.finish(x, 499);
      return;
    }
    const service = x.service!;
    const now = Date.now();
    const inst = service.pick(x.version, now, x.tried);
    if (!inst) {
      this.error(x, 503, 'NO_HEALTHY_UPSTREAM', `every instance of ${service.name} is ejected or down`);
      return;
    }
    x.attempts++;
    x.instance = inst;
    inst.pending++;
    inst.breaker.acquire(now);
    const t = x.route?.timeouts;
    const handler = new UpstreamAttempt(x, inst, this);
    x.controller = undefined;
    inst.pool.dispatch(
      {
        path: x.url,
        method: x.method,
        headers: x.upstreamHeaders as string[],
        body: x.body,
        headersTimeoutMs: t?.headersMs ?? this.env.UPSTREAM_HEADERS_TIMEOUT_MS,
        bodyTimeoutMs: t?.bodyMs ?? this.env.UPSTREAM_BODY_TIMEOUT_MS,
      },
      handler,
    );
  }

  retry(x: Exchange, reason: string): boolean {
    if (!x.replayable || !IDEMPOTENT.has(x.method) || x.clientGone) return false;
    const max = x.route?.retries ?? DEFAULT_RETRIES;
    if (x.attempts > max) return false;
    const service = x.service!;
    x.tried ??= new Set();
    if (x.instance) x.tried.add(x.instance);
    if (!service.pick(x.version, Date.now(), x.tried)) return false;
    if (!this.retryBudget.tryRetry()) {
      this.logger.warn({ reqId: x.requestId, upstream: service.name }, 'retry budget exhausted');
      return false;
    }
    this.metrics.retried(service.name);
    this.logger.debug(
      { reqId: x.requestId, upstreamInstance: x.instance?.id, reason },
      'retrying on another instance',
    );
    // Let the failed attempt unwind before starting the next one.
    queueMicrotask(() => this.forward(x));
    return true;
  }

  dependencyDown(x: Exchange, dependency: string): void {
    this.metrics.unserved(x.service?.name ?? '', `${dependency} unavailable`);
  }

  fail(x: Exchange, status: number, code: string, message: string): void {
    this.error(x, status, code, message);
  }

  /** 413 for a body over the route's limit; the upstream never sees the request. */
  tooLarge(x: Exchange, limit: number): void {
    this.error(
      x,
      413,
      'BODY_TOO_LARGE',
      `the request body exceeds the limit of ${formatBytes(limit)} for ${x.route?.prefix ?? 'this route'}`,
    );
  }

  unauthorized(x: Exchange, reason: string): void {
    x.res.setHeader('www-authenticate', `Bearer error="invalid_token", error_description="${reason}"`);
    this.error(x, 401, 'UNAUTHORIZED', reason);
  }

  /** Answers with an RFC 9457 problem (see runtime/lib/problem.ts); every 503 gets `Retry-After`. */
  error(x: Exchange, status: number, code: string, message: string): void {
    x.errorCode ??= code;
    const retryAfter = retryAfterFor(status, undefined);
    if (retryAfter && !x.res.headersSent && !x.res.hasHeader('retry-after')) {
      x.res.setHeader('retry-after', retryAfter);
    }
    this.json(x, status, problem(status, code, message, { requestId: x.requestId }), PROBLEM_CONTENT_TYPE);
  }

  json(x: Exchange, status: number, body: unknown, contentType = 'application/json; charset=utf-8'): void {
    const res = x.res;
    if (x.done || res.headersSent || res.destroyed) {
      this.finish(x, status);
      return;
    }
    const text = JSON.stringify(body);
    if (x.hasBody && !x.req.complete) {
      // Answered before the body arrived: a short rest is read and dropped (the connection stays
      // usable); a long or unknown one is refused by closing, which the client learns here.
      const declared = declaredLength(x.req.headers);
      if (declared === undefined || declared > DEFAULT_DRAIN.maxBytes || x.req.destroyed)
        res.shouldKeepAlive = false;
    }
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-request-id': x.requestId,
    });
    res.end(text);
    this.finish(x, status);
  }

  async serveMetrics(x: Exchange): Promise<void> {
    try {
      const text = this.peers ? await this.peers.metrics() : await this.metrics.registry.metrics();
      if (x.done) return;
      x.res.writeHead(200, {
        'content-type': this.metrics.registry.contentType,
        'x-request-id': x.requestId,
      });
      x.res.end(text);
      this.finish(x, 200);
    } catch (err) {
      this.error(x, 500, 'METRICS_FAILED', (err as Error).message);
    }
  }

  /**
   * Counts one answered request, HTTP/1.1 or gRPC, in the RED metrics and in the stats window that
   * canary analysis reads. `routeLabel` is the metrics' route label; `route` the route it matched.
   */
  countOutcome(
    routeLabel: string,
    route: Route | undefined,
    upstreamChosen: boolean,
    serviceName: string,
    version: string,
    status: number,
    ms: number,
    errorCode: string | undefined,
  ): void {
    this.metrics.observe(routeLabel, serviceName || 'none', version || 'none', status, ms / 1000);
    if (upstreamChosen) this.stats.record(serviceName, version || 'none', ms, status >= 500);
    else if (route && status >= 500) {
      // Found no upstream at all: counted against the service (as version "none"), or the error
      // ratio would read 0% while every client gets a 503.
      this.stats.record(serviceName, 'none', ms, true);
    }
    if (status >= 500 && route && errorCode && UNSERVED.has(errorCode)) {
      this.metrics.unserved(serviceName, UNSERVED.get(errorCode) as string);
    }
  }

  /** Records the outcome once: metrics, the stats window, the access log. */
  finish(x: Exchange, status: number): void {
    if (x.done) return;
    x.done = true;
    x.status = status;
    const ms = performance.now() - x.start;
    const serviceName = x.service?.name ?? x.route?.service ?? '';
    const version = x.instance?.version ?? x.version ?? '';
    this.countOutcome(
      x.route?.prefix ?? 'none',
      x.route,
      x.service !== undefined,
      serviceName,
      version,
      status,
      ms,
      x.errorCode,
    );
    const span = x.span;
    if (this.tracing.enabled) {
      span.setAttribute('http.status_code', status);
      span.setAttribute('http.request_id', x.requestId);
      span.setAttribute('url.path', x.path);
      if (x.route) span.setAttribute('gateway.route', x.route.prefix);
      if (x.instance) span.setAttribute('gateway.upstream', x.instance.id);
    }
    span.end(status >= 500);
    if (this.#accessLog.wants(status)) {
      this.#accessLog.write({
        reqId: x.requestId,
        traceId: span.traceId,
        method: x.method,
        path: x.path,
        status,
        durationMs: Math.round(ms * 1000) / 1000,
        service: serviceName,
        version,
        instance: x.instance?.id,
        attempts: x.attempts,
        userId: x.identity?.userId,
        error: x.errorCode,
      });
    }
    // Answered before the client finished sending (413, 401, an upstream's early answer): read
    // and drop the rest within bounds, then close, instead of leaving the client stalled.
    if (x.hasBody && !x.req.complete) drainUnreadBody(x.req);
    this.idle.end(x.req.socket);
    if (--this.inFlight === 0 && this.#drained) this.#drained();
  }
}

function grpcReflectionOn(flag: string | undefined, nodeEnv: string | undefined): boolean {
  return flag === undefined ? nodeEnv !== 'production' : ['true', '1', 'yes'].includes(flag);
}

function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
