/**
 * Service-to-service HTTP: undici `fetch` over a keep-alive pool, with a timeout, forwarding the
 * current request's `x-request-id` and a child `traceparent` (and recording a client span when
 * tracing is enabled).
 */
import type { Agent, RequestInit, Response } from 'undici';
import { currentRequest } from './request-context.ts';
import { propagationOnly, type Tracing } from './tracing.ts';

/**
 * undici, imported on a client's first request: services create their clients while starting, and
 * loading undici then was about a tenth of a cold start before `/readyz` (restarts wait for it).
 */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => {
  undici ??= import('undici');
  return undici;
};

export interface HttpClientOptions {
  /** Base URL the paths are resolved against, e.g. `AUTH_URL`. */
  baseUrl: string;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  tracing?: Tracing;
  /** Max sockets per origin. Default 64. */
  connections?: number;
}

export interface HttpClient {
  /** `fetch` relative to the base URL, with propagation headers and the timeout. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** GET/POST JSON; throws `HttpClientError` on a non-2xx status. */
  json<T>(path: string, init?: RequestInit & { body?: never; json?: unknown }): Promise<T>;
  close(): Promise<void>;
}

export class HttpClientError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(url: string, status: number, body: string) {
    super(`${url} answered ${status}: ${body.slice(0, 200)}`);
    this.name = 'HttpClientError';
    this.status = status;
    this.body = body;
  }
}

/** Creates a client for one upstream service. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  let dispatcher: Agent | undefined;
  const tracing = options.tracing ?? propagationOnly;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;

  async function doFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const { Agent, fetch, Headers } = await loadUndici();
    dispatcher ??= new Agent({ connections: options.connections ?? 64, keepAliveTimeout: 30_000 });
    const url = new URL(path.replace(/^\//, ''), base);
    const ctx = currentRequest();
    const headers = new Headers(init.headers as ConstructorParameters<typeof Headers>[0]);
    if (ctx && !headers.has('x-request-id')) headers.set('x-request-id', ctx.reqId);
    const method = init.method ?? 'GET';
    const span = tracing.startClientSpan(`${method} ${url.host}${url.pathname}`, ctx?.traceparent, {
      'http.request.method': method,
      'url.full': url.toString(),
    });
    headers.set('traceparent', span.traceparent);
    try {
      const res = await fetch(url, {
        ...init,
        headers,
        dispatcher,
        signal: init.signal ?? AbortSignal.timeout(timeoutMs),
      });
      span.setAttribute('http.response.status_code', res.status);
      span.end(res.status >= 500);
      return res;
    } catch (err) {
      span.end(err instanceof Error ? err.message : true);
      throw err;
    }
  }

  return {
    fetch: doFetch,
    async json<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
      const { json, ...rest } = init;
      const { Headers } = await loadUndici();
      const headers = new Headers(rest.headers as ConstructorParameters<typeof Headers>[0]);
      headers.set('accept', 'application/json');
      if (json !== undefined) headers.set('content-type', 'application/json');
      const res = await doFetch(path, {
        ...rest,
        headers,
        ...(json !== undefined ? { method: rest.method ?? 'POST', body: JSON.stringify(json) } : {}),
      });
      const text = await res.text();
      if (!res.ok) throw new HttpClientError(path, res.status, text);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    },
    close: async () => {
      await dispatcher?.close();
    },
  };
}
