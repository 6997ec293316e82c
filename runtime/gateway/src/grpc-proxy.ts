/**
 * The gateway's gRPC side: HTTP/2 connections (handed over by the public listener's preface
 * check) are served by a node:http2 server that proxies `application/grpc` calls to the service
 * named by the package, `/platform.<service>.v<N>.<Service>/<Method>`, over pooled HTTP/2
 * sessions. A call goes through what an HTTP/1.1 request goes through — JWT check, rate limits,
 * version choice (weights, stable/canary, header pinning), chaos faults, least-pending instance
 * choice, circuit breaker, retries within the budget while the call can still be replayed, RED
 * metrics and the stats window — with the gRPC status read as its HTTP equivalent.
 * Gateway-made errors are trailers-only responses (HTTP 200 with `grpc-status`).
 */
import {
  type ClientHttp2Stream,
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { GrpcCode, grpcCodeOfHttp, httpStatusOfGrpc } from '../../lib/grpc-status.ts';
import { type ProtocolSplit, splitProtocols } from '../../lib/protocol-split.ts';
import { AccessLog } from './access-log.ts';
import type { Gateway } from './gateway.ts';
import {
  forwardedTrailers,
  type GrpcCall,
  grpcStatusOf,
  NOT_DELIVERED,
  responseHeaders,
  transportCode,
  upstreamHeaders,
} from './grpc-call.ts';
import { GatewayReflection, protoFiles, REFLECTION_SERVICES } from './grpc-reflection.ts';
import { SessionPool } from './grpc-sessions.ts';
import { encodeGrpcMessage, grpcStatusOfHttp, parseGrpcTimeout } from './grpc-wire.ts';
import { requestIdFrom } from './headers.ts';
import { idOnlySpan } from './ids.ts';
import { bearerToken } from './jwt.ts';
import { errorCodeOf } from './proxy.ts';
import type { Route, RoutingTable } from './routing-table.ts';
import { chooseVersion } from './traffic.ts';
import type { Instance, UpstreamService } from './upstreams.ts';

/** `/platform.<service>.v<N>.<Service>/<Method>`; proto packages cannot hold `-`, so `_` stands for it. */
const PLATFORM_METHOD =
  /^\/platform\.([a-z][a-z0-9_]*)\.v\d+\.[A-Za-z_][A-Za-z0-9_]*\/[A-Za-z_][A-Za-z0-9_]*$/;
/** Calls buffered up to this size can be sent again to another instance. */
const REPLAY_BUFFER_MAX = 64 * 1024;
const DEFAULT_RETRIES = 2;
export class GrpcProxy {
  readonly server: Http2Server;
  readonly #gw: Gateway;
  readonly #accessLog: AccessLog;
  readonly #pools = new WeakMap<Instance, SessionPool>();
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #reflectionEnabled: boolean;
  #reflection: Promise<GatewayReflection> | undefined;
  #routesFor: { table: RoutingTable; byService: Map<string, Route> } | undefined;
  readonly #protoDirs: readonly string[] | undefined;
  #split: ProtocolSplit | undefined;

  constructor(gateway: Gateway, opts: { reflection: boolean; protoDirs?: readonly string[] | undefined }) {
    this.#gw = gateway;
    this.#accessLog = new AccessLog(gateway.logger, gateway.env.ACCESS_LOG);
    this.#reflectionEnabled = opts.reflection;
    this.#protoDirs = opts.protoDirs;
    this.server = createServer({ settings: { maxConcurrentStreams: 256 } });
    const idle = gateway.env.CLIENT_KEEPALIVE_TIMEOUT_MS;
    this.server.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      session.on('error', () => {});
      // A quiet connection closes like an idle HTTP/1.1 keep-alive one (GOAWAY; clients reconnect).
      if (idle > 0) session.setTimeout(idle, () => session.close());
      if (gateway.shuttingDown) session.close();
    });
    this.server.on('stream', (stream, headers) => this.#onStream(stream, headers));
  }

  /**
   * Puts the preface check in front of the public HTTP/1.1 server: connections that open with the
   * HTTP/2 preface come here, the others stay the server's.
   */
  attach(server: Server, sniffTimeoutMs: number): void {
    this.#split = splitProtocols(server, { http2: (socket) => this.accept(socket), sniffTimeoutMs });
  }

  /** Takes over a client connection that opened with the HTTP/2 preface. */
  accept(socket: Socket): void {
    if (this.#gw.shuttingDown) {
      socket.destroy();
      return;
    }
    this.server.emit('connection', socket);
  }

  /**
   * GOAWAY to every client; each connection closes once its calls are done (trailers sent), or is
   * cut when `timeoutMs` runs out. Then the access lines gathered so far are handed on.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#split?.closePending();
    const sessions = [...this.#sessions];
    const closed = sessions.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
    for (const s of sessions) s.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const s of this.#sessions) s.destroy();
    this.#accessLog.flush();
    if (this.#reflection) (await this.#reflection.catch(() => undefined))?.close();
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const path = headers[':path'] ?? '/';
    const parent = headers.traceparent;
    const traceparent = typeof parent === 'string' ? parent : undefined;
    const tracing = this.#gw.tracing;
    const call: GrpcCall = {
      stream,
      headers,
      start: performance.now(),
      path,
      requestId: requestIdFrom(headers['x-request-id']),
      span: tracing.enabled
        ? tracing.startServerSpan('gateway grpc', traceparent, { 'rpc.system': 'grpc', 'rpc.method': path })
        : idOnlySpan(traceparent),
      clientIp: stream.session?.socket?.remoteAddress ?? 'unknown',
      route: undefined,
      service: undefined,
      version: undefined,
      instance: undefined,
      identity: undefined,
      local: false,
      attempts: 0,
      tried: undefined,
      sent: [],
      sentBytes: 0,
      clientEnded: false,
      upstream: undefined,
      deadline: undefined,
      timer: undefined,
      trailers: undefined,
      grpcStatus: GrpcCode.OK,
      errorCode: undefined,
      ending: false,
      done: false,
    };
    stream.on('error', () => {});
    stream.once('close', () => {
      if (call.done) return;
      // The client cancelled (RST_STREAM) or went away: so does the upstream call.
      call.upstream?.close(constants.NGHTTP2_CANCEL);
      call.grpcStatus = GrpcCode.CANCELLED;
      this.#finish(call, 499);
    });
    const contentType = headers['content-type'] ?? '';
    if (headers[':method'] !== 'POST' || !contentType.startsWith('application/grpc')) {
      // Not gRPC: the gRPC over HTTP/2 spec answers 415 so that the client reports it plainly.
      if (!stream.headersSent && !stream.destroyed) stream.respond({ ':status': 415 }, { endStream: true });
      call.errorCode = 'NOT_GRPC';
      this.#finish(call, 415);
      return;
    }
    if (this.#gw.shuttingDown) {
      this.#fail(call, GrpcCode.UNAVAILABLE, 'SHUTTING_DOWN', 'the gateway is shutting down');
      return;
    }
    const timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
    if (timeoutMs !== undefined) {
      call.deadline = call.start + timeoutMs;
      call.timer = setTimeout(() => this.#deadlineExceeded(call), timeoutMs);
    }
    this.#readRequest(call);

    const slash = path.indexOf('/', 1);
    if (slash > 1 && REFLECTION_SERVICES.has(path.slice(1, slash))) {
      this.#reflect(call);
      return;
    }
    const m = PLATFORM_METHOD.exec(path);
    const route = m ? this.#routeFor(m[1] as string) : undefined;
    if (!route) {
      this.#fail(call, GrpcCode.UNIMPLEMENTED, 'NO_ROUTE', `no platform service serves ${path}`);
      return;
    }
    call.route = route;
    const mode = route.auth;
    const token = mode === 'none' ? undefined : bearerToken(headers.authorization);
    if (token === undefined) {
      if (mode === 'required') {
        this.#fail(call, GrpcCode.UNAUTHENTICATED, 'UNAUTHORIZED', 'missing bearer token');
        return;
      }
      this.#admit(call);
      return;
    }
    const verifier = this.#gw.verifier;
    if (!verifier) {
      this.#fail(call, GrpcCode.UNAVAILABLE, 'AUTH_UNAVAILABLE', 'token verification is not configured');
      return;
    }
    const known = verifier.cached(token);
    if (known) {
      call.identity = known;
      this.#admit(call);
      return;
    }
    verifier.verify(token).then(
      (result) => {
        if (call.done) return;
        if (!result.ok) {
          if (result.reason === 'signing keys unavailable') {
            this.#fail(
              call,
              GrpcCode.UNAVAILABLE,
              'AUTH_UNAVAILABLE',
              'cannot fetch the signing keys to verify the token',
            );
          } else this.#fail(call, GrpcCode.UNAUTHENTICATED, 'UNAUTHORIZED', result.reason);
          return;
        }
        call.identity = result.identity;
        this.#admit(call);
      },
      (err: unknown) => this.#fail(call, GrpcCode.INTERNAL, 'INTERNAL', (err as Error).message),
    );
  }

  /** The route whose settings (auth, limits, timeouts, retries) a call to `pkg` follows. */
  #routeFor(pkg: string): Route | undefined {
    const table = this.#gw.routes;
    if (this.#routesFor?.table !== table) {
      // Prefer `/<service>` itself, else the service's shortest prefix: its most general route.
      const byService = new Map<string, Route>();
      for (const r of [...table.routes].sort((a, b) => a.prefix.length - b.prefix.length)) {
        const known = byService.get(r.service);
        if (!known || (r.prefix === `/${r.service}` && known.prefix !== r.prefix))
          byService.set(r.service, r);
      }
      this.#routesFor = { table, byService };
    }
    const { byService } = this.#routesFor;
    return byService.get(pkg) ?? byService.get(pkg.replaceAll('_', '-'));
  }

  /** Request bytes go to the current upstream attempt, and are kept while a replay is possible. */
  #readRequest(call: GrpcCall): void {
    const stream = call.stream;
    stream.on('data', (chunk: Buffer) => {
      if (call.sent) {
        call.sentBytes += chunk.length;
        if (call.sentBytes <= REPLAY_BUFFER_MAX) call.sent.push(chunk);
        else call.sent = undefined;
      }
      const up = call.upstream;
      if (up && !up.destroyed && !up.write(chunk)) {
        stream.pause();
        up.once('drain', () => stream.resume());
      }
    });
    stream.once('end', () => {
      call.clientEnded = true;
      const up = call.upstream;
      if (up && !up.destroyed) up.end();
    });
    // Nothing is read until an upstream attempt starts (flow control holds the client back).
    stream.pause();
  }

  #reflect(call: GrpcCall): void {
    if (!this.#reflectionEnabled) {
      this.#fail(
        call,
        GrpcCode.UNIMPLEMENTED,
        'REFLECTION_OFF',
        'server reflection is off (NODE_ENV=production without GRPC_REFLECTION=true)',
      );
      return;
    }
    if (!this.#anonymousAllowed(call)) return;
    this.#reflection ??= GatewayReflection.start(protoFiles(this.#protoDirs));
    this.#reflection.then(
      (reflection) => {
        if (call.done) return;
        call.local = true;
        this.#attempt(call, reflection.pool, undefined);
      },
      (err: unknown) => {
        this.#gw.logger.error({ err }, 'cannot load the protos for gRPC reflection');
        this.#fail(call, GrpcCode.INTERNAL, 'REFLECTION_FAILED', 'the gateway cannot load its protos');
      },
    );
  }

  /** The anonymous per-address budget (HTTP's, shared): false when the call was refused. */
  #anonymousAllowed(call: GrpcCall): boolean {
    const gw = this.#gw;
    if (call.identity || gw.anonRateLimit.rps <= 0) return true;
    const decision = gw.rateLimiter.take(`anon ${call.clientIp}`, gw.anonRateLimit);
    if (decision.ok) return true;
    gw.metrics.rateLimited(call.route?.prefix ?? 'none');
    this.#fail(
      call,
      GrpcCode.RESOURCE_EXHAUSTED,
      'RATE_LIMITED',
      `too many anonymous requests; retry after ${decision.retryAfterS}s`,
    );
    return false;
  }

  /** After authentication: rate limits, version choice and faults, as for HTTP/1.1 (gateway.admit). */
  #admit(call: GrpcCall): void {
    const gw = this.#gw;
    const route = call.route as Route;
    if (!this.#anonymousAllowed(call)) return;
    const own = route.ownRateLimit;
    const limit = own ?? gw.defaultRateLimit;
    if (limit.rps > 0) {
      const client = call.identity ? call.identity.clientKey : `ip:${call.clientIp}`;
      const decision = gw.rateLimiter.take(own ? `${route.prefix} ${client}` : client, limit);
      if (!decision.ok) {
        gw.metrics.rateLimited(route.prefix);
        this.#fail(
          call,
          GrpcCode.RESOURCE_EXHAUSTED,
          'RATE_LIMITED',
          `too many requests; retry after ${decision.retryAfterS}s`,
        );
        return;
      }
    }
    const service = gw.registry.get(route.service);
    if (!service || service.instances.length === 0) {
      this.#fail(call, GrpcCode.UNAVAILABLE, 'NO_UPSTREAM', `service ${route.service} has no instances`);
      return;
    }
    call.service = service;
    const now = Date.now();
    const choice = chooseVersion(
      service.policy,
      call.headers[service.policy.headerName],
      call.headers.cookie,
      (v) => service.hasAvailable(v, now),
    );
    call.version = choice.version;
    gw.retryBudget.recordRequest();
    const fault = gw.faults.apply(service.name, call.version, call.path);
    if (!fault) {
      this.#forward(call);
      return;
    }
    const run = () => {
      if (call.done) return;
      if (fault.abort) {
        call.version ??= service.pick(undefined, Date.now())?.version;
        this.#fail(
          call,
          grpcCodeOfHttp(fault.abort.status),
          'FAULT_INJECTED',
          `fault ${fault.abort.faultId} injected`,
          fault.abort.status,
        );
        return;
      }
      this.#forward(call);
    };
    if (fault.delayMs > 0) setTimeout(run, fault.delayMs);
    else run();
  }

  #forward(call: GrpcCall): void {
    if (call.done) return;
    const service = call.service as UpstreamService;
    const inst = service.pick(call.version, Date.now(), call.tried);
    if (!inst) {
      this.#fail(
        call,
        GrpcCode.UNAVAILABLE,
        'NO_HEALTHY_UPSTREAM',
        `every instance of ${service.name} is ejected or down`,
      );
      return;
    }
    let pool = this.#pools.get(inst);
    if (!pool) {
      pool = new SessionPool(new URL(inst.url).origin, {
        connectTimeoutMs: this.#gw.env.UPSTREAM_CONNECT_TIMEOUT_MS,
        idleMs: 30_000,
        maxSessions: 4,
      });
      this.#pools.set(inst, pool);
    }
    this.#attempt(call, pool, inst);
  }

  #attempt(call: GrpcCall, pool: SessionPool, inst: Instance | undefined): void {
    call.attempts++;
    call.instance = inst;
    if (inst) {
      inst.pending++;
      inst.breaker.acquire(Date.now());
    }
    const { session, done } = pool.acquire();
    let ended = false;
    /** Ends this attempt once: frees the instance slot; true the first time. */
    const release = () => {
      if (ended) return false;
      ended = true;
      done();
      if (inst) inst.pending--;
      return true;
    };
    let up: ClientHttp2Stream;
    try {
      up = session.request(upstreamHeaders(call, pool.origin));
    } catch (err) {
      release();
      this.#attemptFailed(call, inst, errorCodeOf(err), false);
      return;
    }
    call.upstream = up;
    const client = call.stream;
    let responded = false;
    let headersTimer: NodeJS.Timeout | undefined;
    const startHeadersTimer = () => {
      const t = call.route?.timeouts?.headersMs ?? this.#gw.env.UPSTREAM_HEADERS_TIMEOUT_MS;
      headersTimer = setTimeout(() => {
        if (responded || call.done || call.ending || !release()) return;
        up.close(constants.NGHTTP2_CANCEL);
        inst?.breaker.failure(Date.now());
        call.errorCode = 'UPSTREAM_TIMEOUT';
        this.#fail(
          call,
          GrpcCode.DEADLINE_EXCEEDED,
          'UPSTREAM_TIMEOUT',
          `upstream ${inst?.id ?? 'reflection'} did not answer in time`,
        );
      }, t);
    };
    // Like undici's headers timeout, counted from the end of the request.
    if (call.clientEnded) startHeadersTimer();
    else client.once('end', startHeadersTimer);

    for (const chunk of call.sent ?? []) up.write(chunk);
    if (call.clientEnded) up.end();
    else client.resume();

    up.on('response', (headers, flags) => {
      responded = true;
      clearTimeout(headersTimer);
      if (call.done) {
        release();
        up.close(constants.NGHTTP2_CANCEL);
        return;
      }
      const status = Number(headers[':status']);
      if (status !== 200) {
        // Not a gRPC answer (a proxy's or a plain HTTP server's): the client would make the status
        // up from the HTTP one, so the gateway does, and treats 502-504 as the instance failing.
        release();
        up.close(constants.NGHTTP2_CANCEL);
        if (status >= 502 && status <= 504) inst?.breaker.failure(Date.now());
        else inst?.breaker.success();
        this.#fail(
          call,
          grpcStatusOfHttp(status),
          'BAD_UPSTREAM_RESPONSE',
          `upstream answered HTTP ${status}`,
        );
        return;
      }
      inst?.breaker.success();
      const out = responseHeaders(headers, call.requestId);
      if ((flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
        // Trailers-only: the status is in the headers and there is no body.
        release();
        call.grpcStatus = grpcStatusOf(headers);
        if (!client.destroyed) client.respond(out, { endStream: true });
        this.#finish(call, httpStatusOfGrpc(call.grpcStatus));
        return;
      }
      client.respond(out, { waitForTrailers: true });
      client.once('wantTrailers', () => {
        const trailers = call.trailers ?? {
          'grpc-status': String(GrpcCode.INTERNAL),
          'grpc-message': 'the upstream ended the call without a status',
        };
        call.grpcStatus = Number(trailers['grpc-status'] ?? GrpcCode.UNKNOWN);
        client.sendTrailers(trailers);
        this.#finish(call, httpStatusOfGrpc(call.grpcStatus));
      });
      up.on('data', (chunk: Buffer) => {
        if (client.destroyed) return;
        if (!client.write(chunk)) {
          up.pause();
          client.once('drain', () => up.resume());
        }
      });
      up.once('trailers', (trailers) => {
        call.trailers ??= forwardedTrailers(trailers);
      });
      up.once('end', () => {
        release();
        if (!client.destroyed) client.end();
      });
    });
    up.on('error', (err: Error) => {
      clearTimeout(headersTimer);
      if (!release()) return;
      if (call.done || call.ending) {
        // Cut because the call ended elsewhere (client gone, deadline): no verdict on the instance.
        inst?.breaker.release();
        return;
      }
      const code = transportCode(err);
      this.#attemptFailed(call, inst, code, responded);
    });
    up.once('close', () => {
      clearTimeout(headersTimer);
      // A reset without an error event (NGHTTP2_CANCEL, REFUSED_STREAM on some paths).
      if (!release()) return;
      if (call.done || call.ending) {
        inst?.breaker.release();
        return;
      }
      const code = up.rstCode === constants.NGHTTP2_REFUSED_STREAM ? 'ERR_HTTP2_GOAWAY_SESSION' : 'RESET';
      this.#attemptFailed(call, inst, code, responded);
    });
  }

  /** An attempt broke at the transport level: retried when the upstream never saw it, else failed. */
  #attemptFailed(call: GrpcCall, inst: Instance | undefined, code: string, responded: boolean): void {
    call.errorCode = code;
    call.upstream = undefined;
    inst?.breaker.failure(Date.now());
    if (!responded && NOT_DELIVERED.has(code) && this.#retry(call, code)) return;
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      this.#fail(
        call,
        GrpcCode.UNAVAILABLE,
        code,
        `upstream ${inst?.id} did not accept a connection in time`,
      );
      return;
    }
    this.#fail(call, GrpcCode.UNAVAILABLE, code, `upstream ${inst?.id ?? 'reflection'} failed: ${code}`);
  }

  #retry(call: GrpcCall, reason: string): boolean {
    if (!call.sent || call.done || !call.service || !call.instance) return false;
    const max = call.route?.retries ?? DEFAULT_RETRIES;
    if (call.attempts > max) return false;
    call.tried ??= new Set();
    call.tried.add(call.instance);
    const service = call.service;
    if (!service.pick(call.version, Date.now(), call.tried)) return false;
    const gw = this.#gw;
    if (!gw.retryBudget.tryRetry()) {
      gw.logger.warn({ reqId: call.requestId, upstream: service.name }, 'retry budget exhausted');
      return false;
    }
    gw.metrics.retried(service.name);
    gw.logger.debug(
      { reqId: call.requestId, upstreamInstance: call.instance.id, reason },
      'retrying gRPC call',
    );
    queueMicrotask(() => this.#forward(call));
    return true;
  }

  #deadlineExceeded(call: GrpcCall): void {
    if (call.done || call.ending) return;
    // The caller's own budget ran out: says nothing about the instance (released when the
    // cancelled attempt closes).
    const up = call.upstream;
    this.#fail(call, GrpcCode.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED', 'the call exceeded its grpc-timeout');
    up?.close(constants.NGHTTP2_CANCEL);
  }

  /**
   * Ends the call with a gateway-made status: trailers-only before any response, else as the
   * trailers after what was already relayed. `httpStatus` is what the metrics count it as.
   */
  #fail(
    call: GrpcCall,
    code: number,
    errorCode: string,
    message: string,
    httpStatus = httpStatusOfGrpc(code),
  ): void {
    if (call.done || call.ending) return;
    call.ending = true;
    call.errorCode ??= errorCode;
    call.grpcStatus = code;
    const stream = call.stream;
    const status = { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message) };
    if (!stream.destroyed && !stream.closed) {
      if (!stream.headersSent) {
        stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'x-request-id': call.requestId, ...status },
          { endStream: true },
        );
      } else {
        // The response started (headers sent with waitForTrailers): end it with these trailers.
        call.trailers = status;
        stream.end();
        return;
      }
    }
    this.#finish(call, httpStatus);
  }

  /** Records the outcome once: the RED metrics, the stats window canary analysis reads, the access log. */
  #finish(call: GrpcCall, status: number): void {
    if (call.done) return;
    call.done = true;
    clearTimeout(call.timer);
    const gw = this.#gw;
    const ms = performance.now() - call.start;
    const serviceName = call.local ? 'gateway' : (call.service?.name ?? call.route?.service ?? '');
    const version = call.instance?.version ?? call.version ?? '';
    gw.countOutcome(
      call.route?.prefix ?? (call.local ? 'grpc-reflection' : 'none'),
      call.route,
      call.service !== undefined,
      serviceName,
      version,
      status,
      ms,
      call.errorCode,
    );
    const span = call.span;
    if (gw.tracing.enabled) {
      span.setAttribute('rpc.grpc.status_code', call.grpcStatus);
      span.setAttribute('http.status_code', status);
      span.setAttribute('http.request_id', call.requestId);
      if (call.route) span.setAttribute('gateway.route', call.route.prefix);
      if (call.instance) span.setAttribute('gateway.upstream', call.instance.id);
    }
    span.end(status >= 500);
    if (this.#accessLog.wants(status)) {
      this.#accessLog.write({
        reqId: call.requestId,
        traceId: span.traceId,
        method: 'GRPC',
        path: call.path,
        status,
        durationMs: Math.round(ms * 1000) / 1000,
        service: serviceName,
        version,
        instance: call.instance?.id,
        attempts: call.attempts,
        userId: call.identity?.userId,
        error: call.errorCode ?? (call.grpcStatus === 0 ? undefined : `grpc-status ${call.grpcStatus}`),
      });
    }
  }
}
