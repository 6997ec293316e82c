/**
 * One upstream attempt, driven through the kit's lean HTTP/1.1 client (runtime/lib/http1-client):
 * response bytes go straight from the upstream socket to the client response with backpressure
 * (pause/resume), with no intermediate stream objects. Request bodies are streamed from the
 * client's request stream (or sent from a small buffer when the request may need a replay on
 * retry).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import {
  type Http1Controller,
  Http1Errors,
  type Http1Handler,
  type Http1Headers,
} from '../../lib/http1-client.ts';
import type { ServerRequest, ServerResponse } from '../../lib/http1-server.ts';
import { DEPENDENCY_HEADER } from '../../lib/problem.ts';
import type { ActiveSpan } from '../../lib/tracing.ts';
import { BODY_TOO_LARGE } from './body-limit.ts';
import { downstreamHeaders } from './headers.ts';
import type { Identity } from './jwt.ts';
import type { Route } from './routing-table.ts';
import type { Instance, UpstreamService } from './upstreams.ts';

/** Everything the gateway knows about one client request while it is in flight. */
export interface Exchange {
  req: ServerRequest;
  res: ServerResponse;
  start: number;
  method: string;
  url: string;
  path: string;
  requestId: string;
  span: ActiveSpan;
  clientIp: string;
  route: Route | undefined;
  service: UpstreamService | undefined;
  version: string | undefined;
  instance: Instance | undefined;
  identity: Identity | undefined;
  upstreamHeaders: string[] | undefined;
  body: Buffer | Readable | null;
  /** The request announced a body (content-length > 0 or chunked). */
  hasBody: boolean;
  /** The body can be sent again (none, or buffered), so an idempotent request may be retried. */
  replayable: boolean;
  attempts: number;
  tried: Set<Instance> | undefined;
  setCookie: string | undefined;
  controller: Http1Controller | undefined;
  clientGone: boolean;
  done: boolean;
  status: number;
  errorCode: string | undefined;
}

/** What the proxy core offers an attempt when it ends. */
export interface AttemptOwner {
  /** Tries another instance if the request and the retry budget allow it; true when it did. */
  retry(x: Exchange, reason: string): boolean;
  /** Answers with a gateway error (502/504) after an upstream failure. */
  fail(x: Exchange, status: number, code: string, message: string): void;
  finish(x: Exchange, status: number): void;
  /** The upstream answered 503 because one of its backends is down. */
  dependencyDown(x: Exchange, dependency: string): void;
}

/**
 * Set by an upstream on a 503 that sheds load on purpose (like Envoy's `x-envoy-overloaded`):
 * relayed as it is, neither retried elsewhere nor counted toward ejection.
 */
export const OVERLOADED_HEADER = 'x-overloaded';

const RETRY_ABORT = new Error('retrying on another instance');

/**
 * Errors that may be retried on another instance. Only connection failures, timeouts and the
 * upstream's own 502/503/504 count toward ejecting an instance; nothing a client can provoke
 * (4xx, an oversized or stalled body, an upstream refusing the rest of a body) does, or any
 * anonymous client could take a service out of the gateway.
 */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  Http1Errors.CONNECT_TIMEOUT,
  Http1Errors.CLOSED,
]);

/** How a connection dies when the upstream hangs up while the gateway is still writing the body. */
const HANG_UP_ERRORS = new Set(['EPIPE', 'ECONNRESET', Http1Errors.CLOSED]);

export function errorCodeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.cause?.code === 'string') return e.cause.code;
  return 'UNKNOWN';
}

export class UpstreamAttempt implements Http1Handler {
  readonly #x: Exchange;
  readonly #inst: Instance;
  readonly #owner: AttemptOwner;
  #status = 0;
  #ended = false;
  /** The chunk that completes the body, held for res.end(): head and body leave in one write. */
  #lastChunk: Buffer | undefined;

  constructor(x: Exchange, inst: Instance, owner: AttemptOwner) {
    this.#x = x;
    this.#inst = inst;
    this.#owner = owner;
  }

  #release(): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#inst.pending--;
    return true;
  }

  onRequestStart(controller: Http1Controller): void {
    this.#x.controller = controller;
    if (this.#x.clientGone) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(controller: Http1Controller, statusCode: number, parsed: Http1Headers | undefined): void {
    const headers = (parsed ?? {}) as IncomingHttpHeaders;
    const x = this.#x;
    const breaker = this.#inst.breaker;
    this.#status = statusCode;
    const dependency = statusCode === 503 ? headers[DEPENDENCY_HEADER] : undefined;
    if (statusCode === 503 && headers[OVERLOADED_HEADER] !== undefined) {
      // Deliberate load shedding (a full transform queue): the instance is alive and says when to
      // come back. Ejecting it would turn a busy service into an unreachable one, and any client
      // able to fill the queue could do that.
      breaker.release();
    } else if (typeof dependency === 'string') {
      // The instance answered: it is healthy, its backend is not. Ejecting it (or retrying on a
      // sibling that shares the backend) would only turn the routes that still work into 503s too.
      breaker.success();
      x.errorCode = `${dependency.slice(0, 32)} unavailable`;
      this.#owner.dependencyDown(x, dependency.slice(0, 32));
    } else if (statusCode === 502 || statusCode === 503 || statusCode === 504) {
      breaker.failure(Date.now());
      if (statusCode !== 504 && this.#owner.retry(x, `upstream answered ${statusCode}`)) {
        this.#release();
        controller.abort(RETRY_ABORT);
        return;
      }
    } else {
      breaker.success();
    }
    const res = x.res;
    if (res.destroyed) return;
    // The upstream answered before the client finished sending: the body will not be read on,
    // so tell the client this connection ends with the answer (it stops sending and reads it).
    if (x.hasBody && !x.req.complete) res.shouldKeepAlive = false;
    downstreamHeaders(headers);
    if (headers['x-request-id'] === undefined) headers['x-request-id'] = x.requestId;
    if (x.setCookie) {
      const prior = headers['set-cookie'];
      headers['set-cookie'] = prior
        ? [...(Array.isArray(prior) ? prior : [prior]), x.setCookie]
        : [x.setCookie];
    }
    try {
      res.writeHead(statusCode, headers as Record<string, string | string[]>);
    } catch {
      // An upstream header node refuses to send (invalid characters) would crash the response.
      this.#release();
      controller.abort(new Error('invalid upstream response headers'));
      this.#owner.fail(
        x,
        502,
        'BAD_UPSTREAM_RESPONSE',
        'the upstream sent a response the gateway cannot forward',
      );
    }
  }

  onResponseData(controller: Http1Controller, chunk: Buffer, last: boolean): void {
    if (last) {
      // onResponseEnd follows at once. res.write() then res.end() costs a second pass through the
      // response's stream machinery and a tick to uncork; res.end(chunk) sends it all at once.
      this.#lastChunk = chunk;
      return;
    }
    const res = this.#x.res;
    if (!res.write(chunk) && !res.destroyed) {
      controller.pause();
      res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (!this.#release()) return;
    const x = this.#x;
    x.res.end(this.#lastChunk);
    this.#owner.finish(x, this.#status);
  }

  onResponseError(_controller: Http1Controller, err: Error): void {
    if (err === RETRY_ABORT) return;
    if (!this.#release()) return;
    const x = this.#x;
    const breaker = this.#inst.breaker;
    if (x.clientGone) {
      breaker.release();
      this.#owner.finish(x, 499);
      return;
    }
    const code = errorCodeOf(err);
    x.errorCode = code;
    if (code === BODY_TOO_LARGE) {
      // A chunked body crossed the route's limit on its way through: the client's doing.
      breaker.release();
      if (x.res.headersSent) {
        x.res.destroy(err);
        this.#owner.finish(x, this.#status);
      } else this.#owner.fail(x, 413, 'BODY_TOO_LARGE', err.message);
      return;
    }
    if (x.res.headersSent) {
      // The response has started: all we can do is cut it so the client sees it incomplete.
      breaker.failure(Date.now());
      x.res.destroy(err);
      this.#owner.finish(x, this.#status || 502);
      return;
    }
    if (code === Http1Errors.BODY_LENGTH_MISMATCH) {
      breaker.release();
      this.#owner.fail(x, 400, 'BAD_REQUEST_BODY', 'the request body ended before its announced length');
      return;
    }
    if (code === Http1Errors.INVALID_HEADER) {
      // A header the gateway would forward (a verified token's claim, say) cannot be framed safely.
      breaker.release();
      this.#owner.fail(
        x,
        400,
        'BAD_REQUEST_HEADERS',
        'the request cannot be forwarded: a header value is invalid',
      );
      return;
    }
    const bodyInFlight = x.hasBody && !x.req.complete;
    if (code === Http1Errors.HEADERS_TIMEOUT && bodyInFlight) {
      // The upstream waited for a body the client never finished sending: the client's fault.
      breaker.release();
      this.#owner.fail(x, 408, 'REQUEST_TIMEOUT', 'the request body did not arrive in time');
      return;
    }
    if (bodyInFlight && HANG_UP_ERRORS.has(code)) {
      // The upstream stopped reading a body the client was still sending (it refused it, or went
      // away): its answer, if any, was lost with the connection. A client can provoke this at will,
      // so it does not count toward ejection; a crashed instance shows up on the next connect.
      breaker.release();
      this.#owner.fail(
        x,
        502,
        'UPSTREAM_CLOSED_EARLY',
        `upstream ${this.#inst.id} closed the connection before the request body was sent`,
      );
      return;
    }
    breaker.failure(Date.now());
    if (CONNECT_ERRORS.has(code) && this.#owner.retry(x, code)) return;
    if (code === Http1Errors.HEADERS_TIMEOUT || code === Http1Errors.CONNECT_TIMEOUT) {
      this.#owner.fail(x, 504, 'UPSTREAM_TIMEOUT', `upstream ${this.#inst.id} did not answer in time`);
    } else {
      this.#owner.fail(x, 502, 'UPSTREAM_UNAVAILABLE', `upstream ${this.#inst.id} failed: ${code}`);
    }
  }
}
