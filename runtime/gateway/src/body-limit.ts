/**
 * Request body limits enforced at the edge, so an oversized body never reaches an upstream (and
 * never makes one hang up on the gateway mid-request). A declared `content-length` is judged at
 * once; a chunked body is counted as it streams through and cut when it crosses the limit.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';

/** The code carried by the error a metered body fails with, so the proxy can answer 413. */
export const BODY_TOO_LARGE = 'GW_BODY_TOO_LARGE';

export class BodyTooLargeError extends Error {
  readonly code = BODY_TOO_LARGE;
  constructor(limit: number) {
    super(`the request body exceeds the limit of ${limit} bytes`);
  }
}

/** The declared body length, or undefined when the body is chunked or absent. */
export function declaredLength(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['content-length'];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

/** Passes a streamed body through, failing with BodyTooLargeError once more than `limit` bytes went by. */
export class BodyMeter extends Transform {
  readonly #limit: number;
  #seen = 0;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) callback(new BodyTooLargeError(this.#limit));
    else callback(null, chunk);
  }
}

/** `1048576` → `1 MiB`, for messages a person reads. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && v % 1024 === 0 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v} ${units[i]}`;
}
