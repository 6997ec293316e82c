/**
 * The request being handled, reachable from anywhere in its async call tree (AsyncLocalStorage),
 * so the HTTP client can forward `x-request-id` and `traceparent` without threading them through
 * every function signature.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.ts';

export interface RequestContext {
  reqId: string;
  traceId: string;
  /** traceparent naming the current request span as parent, for outgoing calls. */
  traceparent: string;
  log: Logger;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

/** The current request's context, if called while handling one. */
export function currentRequest(): RequestContext | undefined {
  return requestContext.getStore();
}
