/** Header handling for proxying: hop-by-hop stripping, forwarding headers, request ids. */
import type { IncomingHttpHeaders } from 'node:http';
import { uuid } from './ids.ts';

/** RFC 9110 §7.6.1 connection-specific headers, plus ones the gateway sets itself or owns. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
  'http2-settings',
]);

/** Set by the gateway only: a client must not be able to claim an identity or a forwarding chain. */
export const GATEWAY_OWNED = new Set([
  'x-user-id',
  'x-user-role',
  'x-user-scope',
  'x-request-id',
  'traceparent',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
]);

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(value: string | string[] | undefined): string {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : uuid();
}

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close') return undefined;
  return new Set(lower.split(',').map((t) => t.trim()));
}

export interface ForwardInfo {
  requestId: string;
  traceparent: string;
  clientIp: string;
  userId?: string | undefined;
  role?: string | undefined;
  scope?: string | undefined;
}

/** Flat [name, value, …] list for the upstream request from the client's raw headers. */
export function upstreamHeaders(
  rawHeaders: readonly string[],
  headers: IncomingHttpHeaders,
  info: ForwardInfo,
): string[] {
  const extra = connectionTokens(headers.connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || GATEWAY_OWNED.has(lower) || extra?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  const prior = headers['x-forwarded-for'];
  out.push(
    'x-forwarded-for',
    typeof prior === 'string' && prior ? `${prior}, ${info.clientIp}` : info.clientIp,
  );
  out.push('x-forwarded-proto', 'http');
  if (headers.host) out.push('x-forwarded-host', headers.host);
  out.push('x-request-id', info.requestId, 'traceparent', info.traceparent);
  if (info.userId !== undefined) {
    out.push('x-user-id', info.userId);
    if (info.role !== undefined) out.push('x-user-role', info.role);
    if (info.scope !== undefined) out.push('x-user-scope', info.scope);
  }
  return out;
}

const RESPONSE_HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/** Removes connection-specific headers from an upstream response (mutates and returns it). */
export function downstreamHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const extra = connectionTokens(headers.connection);
  if (extra) for (const t of extra) delete headers[t];
  for (const h of RESPONSE_HOP_BY_HOP) if (headers[h] !== undefined) delete headers[h];
  return headers;
}
