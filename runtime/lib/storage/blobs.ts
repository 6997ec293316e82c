/**
 * The blob storage seam. `openBlobs(url)` picks the adapter by scheme: `file://<dir>` today,
 * `s3://bucket?endpoint=…` later. Keys are relative, slash-separated names; anything that could
 * escape the store (`..`, absolute paths, backslashes, NUL) is rejected before touching storage.
 */
import type { Readable } from 'node:stream';
import { stripScheme } from './db.ts';

export interface BlobStat {
  key: string;
  size: number;
  /** Last modification time, ms since epoch. */
  mtimeMs: number;
}

/** Inclusive byte range, like HTTP Range: `end` defaults to the last byte. */
export interface ByteRange {
  start: number;
  end?: number;
}

export interface BlobRead {
  stat: BlobStat;
  /** The requested bytes (the whole blob without a range). */
  stream: Readable;
  /** First and last byte (inclusive) that `stream` yields. */
  start: number;
  end: number;
}

export type BlobSource = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

export interface Blobs {
  /**
   * Stores `source` under `key` atomically: readers see the old blob or the complete new one, never
   * a partial write. `string` sources are bytes (utf8), not paths; use `putFile` for files.
   */
  put(key: string, source: BlobSource): Promise<BlobStat>;
  /** Stores a file; with `move` the file is renamed into place when on the same filesystem. */
  putFile(key: string, path: string, options?: { move?: boolean }): Promise<BlobStat>;
  /** Undefined when the key does not exist. Throws `RangeError` on an unsatisfiable range. */
  get(key: string, range?: ByteRange): Promise<BlobRead | undefined>;
  stat(key: string): Promise<BlobStat | undefined>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Keys starting with `prefix`, sorted. */
  list(prefix?: string): Promise<BlobStat[]>;
  ping(): Promise<void>;
}

/** Thrown for keys that are empty, absolute, contain `..`/`.` segments, backslashes or control characters. */
export class InvalidBlobKeyError extends Error {
  readonly code = 'INVALID_BLOB_KEY';
  constructor(key: string) {
    super(`invalid blob key ${JSON.stringify(key.slice(0, 100))}`);
    this.name = 'InvalidBlobKeyError';
  }
}

const KEY_SEGMENT = /^[A-Za-z0-9_@=+,~-][A-Za-z0-9._@=+,~-]*$/;

/** Validates a blob key and returns it; throws `InvalidBlobKeyError`. */
export function assertBlobKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 512)
    throw new InvalidBlobKeyError(String(key));
  for (const segment of key.split('/')) {
    if (!KEY_SEGMENT.test(segment) || segment === '.' || segment === '..') throw new InvalidBlobKeyError(key);
  }
  return key;
}

/**
 * Opens a blob store by URL: `file:///abs/dir`, `file://rel/dir`, or
 * `s3://bucket[/prefix]?endpoint=…&forcePathStyle=true&region=…` (see s3-blobs.ts).
 */
export async function openBlobs(url: string): Promise<Blobs> {
  const scheme = url.slice(0, url.indexOf(':'));
  switch (scheme) {
    case 'file': {
      const { openFileBlobs } = await import('./file-blobs.ts');
      return openFileBlobs(stripScheme(url));
    }
    case 's3': {
      const { openS3Blobs } = await import('./s3-blobs.ts');
      return openS3Blobs(url);
    }
    default:
      throw new Error(`BLOBS_URL has an unsupported scheme "${scheme}:"; expected file:// or s3://`);
  }
}

/**
 * The inclusive byte span a read covers: the whole blob without a range, the range clipped to the
 * blob's end otherwise. A range that starts past the end (or is malformed) is a RangeError, which
 * callers answer with 416.
 */
export function resolveRange(size: number, range?: ByteRange): { start: number; end: number } {
  const last = size - 1;
  const start = range?.start ?? 0;
  const end = Math.min(range?.end ?? last, last);
  if (range && (start < 0 || start > end || start > last || !Number.isInteger(start))) {
    throw new RangeError(`range ${start}-${range.end ?? ''} not satisfiable for ${size} bytes`);
  }
  return { start, end };
}
