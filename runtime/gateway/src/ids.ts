/**
 * Request and trace ids for every proxied request. They come from a pooled random buffer
 * refilled 64 KiB at a time: one `randomBytes` call per id showed up as ~7% of the gateway's CPU
 * profile under load (each call is a synchronous trip to the CSPRNG), and a fill costs ~2.3 µs
 * whatever its size (4 KiB in 3.0 µs, 64 KiB in 11-12 µs), so a larger pool takes it ~4× less often
 * per byte: one fill per ~1,600 requests (40 random bytes each).
 */
import { randomFillSync } from 'node:crypto';
import { type ActiveSpan, formatTraceparent, parseTraceparent } from '../../lib/tracing.ts';

const POOL_SIZE = 64 * 1024;
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
  let traceId: string;
  let spanId: string;
  if (parent) {
    traceId = parent.traceId;
    spanId = randomHex(8);
  } else {
    // A new trace: both ids from one hex conversion.
    const ids = randomHex(24);
    traceId = ids.slice(0, 32);
    spanId = ids.slice(32);
  }
  return {
    traceId,
    spanId,
    traceparent: formatTraceparent(traceId, spanId, parent?.flags ?? '01'),
    setAttribute: noop,
    end: noop,
  };
}
