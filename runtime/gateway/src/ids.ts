/**
 * Request and trace ids for every proxied request. They come from a pooled random buffer
 * refilled 4 KiB at a time: one `randomBytes` call per id showed up as ~7% of the gateway's CPU
 * profile under load (each call is a synchronous trip to the CSPRNG).
 */
import { randomFillSync } from 'node:crypto';
import { type ActiveSpan, formatTraceparent, parseTraceparent } from '../../lib/tracing.ts';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

function take(bytes: number): number {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

export function randomHex(bytes: number): string {
  const at = take(bytes);
  return pool.toString('hex', at, at + bytes);
}

/** An RFC 9562 version-4 UUID. */
export function uuid(): string {
  const at = take(16);
  pool[at + 6] = ((pool[at + 6] as number) & 0x0f) | 0x40;
  pool[at + 8] = ((pool[at + 8] as number) & 0x3f) | 0x80;
  const h = pool.toString('hex', at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const noop = () => {};

/** The gateway hop's span when no exporter is configured: ids only, continuing the caller's trace. */
export function idOnlySpan(traceparent: string | undefined): ActiveSpan {
  const parent = traceparent ? parseTraceparent(traceparent) : undefined;
  const traceId = parent?.traceId ?? randomHex(16);
  const spanId = randomHex(8);
  return {
    traceId,
    spanId,
    traceparent: formatTraceparent(traceId, spanId, parent?.flags ?? '01'),
    setAttribute: noop,
    end: noop,
  };
}
